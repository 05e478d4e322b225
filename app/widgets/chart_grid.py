"""Every metric in a grid of charts that fills the pane, with a filter, pages, an inspect cursor
synced across the charts, zoom, smoothing, an x axis choice and log-Y per chart.

The state and its rules live in `GridModel` (plain Python); this widget binds keys to it and
hands each visible chart its series. Only the charts on the page are drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.widgets import Input, Static

from cookbook_tui.app.messages import ChartCursorMoved
from cookbook_tui.app.widgets.in_order_keys import focus_now, open_filter_in_order
from cookbook_tui.app.widgets.metric_chart import MetricChart
from cookbook_tui.monitor.chart_grid_model import X_UNITS, ChartRun, GridModel
from cookbook_tui.monitor.chart_model import compact, format_duration, grid_shape, value_at
from cookbook_tui.monitor.layouts import (
    GridLayout,
    LayoutError,
    apply_layout,
    layout_of,
    load_layouts,
    save_layout,
)


class ChartGrid(Vertical, can_focus=True):
    DEFAULT_CSS = """
    ChartGrid { height: 1fr; }
    ChartGrid #chart-readout { height: 1; background: $panel; padding: 0 1; }
    ChartGrid #chart-filter { display: none; height: 3; }
    ChartGrid.-filtering #chart-filter { display: block; }
    ChartGrid #chart-cells { height: 1fr; grid-gutter: 0 0; }
    ChartGrid #chart-empty { padding: 1 2; color: $text-muted; display: none; }
    ChartGrid:focus #chart-readout { background: $panel-lighten-1; }
    """

    BINDINGS = [
        Binding("slash", "start_filter", "Filter", id="charts.filter"),
        Binding("left", "cursor(-1)", "Cursor", show=False, id="charts.cursor_left"),
        Binding("right", "cursor(1)", "Cursor", show=False, id="charts.cursor_right"),
        Binding("shift+left", "jump(-0.05)", "Cursor far", show=False, id="charts.jump_left"),
        Binding("shift+right", "jump(0.05)", "Cursor far", show=False, id="charts.jump_right"),
        Binding("home", "cursor_first", "Cursor to first", show=False, id="charts.cursor_first"),
        Binding("end", "follow", "Follow the newest step", show=False, id="charts.follow"),
        Binding("up", "select(-1)", "Previous chart", show=False, id="charts.previous"),
        Binding("down", "select(1)", "Next chart", show=False, id="charts.next"),
        Binding("pagedown", "page(1)", "Next page", id="charts.page_down"),
        Binding("pageup", "page(-1)", "Prev page", show=False, id="charts.page_up"),
        Binding("z", "zoom", "Zoom", id="charts.zoom"),
        Binding("Z", "unzoom", "Unzoom", show=False, id="charts.unzoom"),
        Binding("p", "pin", "Pin", id="charts.pin"),
        Binding("space", "mark", "Mark to merge", show=False, id="charts.mark"),
        Binding("g", "merge", "Merge/split", show=False, id="charts.merge"),
        Binding("l", "log", "Log-Y", id="charts.log"),
        Binding("m", "smoothing", "Smooth", id="charts.smooth"),
        Binding("plus,equals_sign", "smoother(1)", "Smoother", show=False, id="charts.smoother"),
        Binding("minus", "smoother(-1)", "Less smoothing", show=False, id="charts.rougher"),
        Binding("t", "x_axis", "X axis", id="charts.x_axis"),
        Binding("R", "reset_layout", "Default layout", show=False, id="charts.reset_layout"),
        Binding("escape", "clear", "Back", show=False, id="charts.clear"),
    ]

    def __init__(self, *, follow: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = GridModel(follow=follow)
        self.follow_by_default = follow
        self.shape = (0, 0)  # fitted to the pane on the first resize
        self.message = ""
        self.after_first_draw: Callable[[], object] | None = None  # called once charts are on screen
        self.layout_kind: str | None = None  # the kind of run whose saved layout was looked up
        self.layouts: tuple[Path, str] | None = None  # (layouts file, kind): where changes are saved

    def compose(self) -> ComposeResult:
        yield Static(id="chart-readout")
        yield Input(placeholder="regex on metric names (Enter keeps it, Esc clears)", id="chart-filter")
        yield Static("Waiting for the first step…", id="chart-empty")
        yield Grid(id="chart-cells")

    # ---- data in
    def set_runs(self, runs: Sequence[ChartRun]) -> None:
        self.model.runs = list(runs)
        self.data_changed()

    def use_layouts(self, path: Path, kind: str) -> None:
        """Restore the layout saved for this kind of run; from now on layout changes are saved there.
        A broken layouts file is reported (file:line) and left alone: nothing is saved over it."""
        self.layout_kind = kind
        try:
            saved = load_layouts(path).get(kind)
        except LayoutError as error:
            self.notify(f"{error} — chart layouts are not saved until it is fixed.", severity="error",
                        title="Chart layout", timeout=15)
            return
        self.layouts = (path, kind)
        if saved is not None:
            apply_layout(self.model, saved)
            self.message = f"layout for {kind} restored (R: default)"
            self.fit_to_size()
            self.redraw()

    def layout_changed(self) -> None:
        if self.layouts is not None:
            self.save_layout(*self.layouts, layout_of(self.model))

    @work(thread=True, exclusive=True, group="layout-save", exit_on_error=False, description="Saving the chart layout")
    def save_layout(self, path: Path, kind: str, layout) -> None:
        save_layout(path, kind, layout)

    def data_changed(self) -> None:
        """New rows arrived: redraw the charts on the page (and only those); a following cursor
        moves onto the newest step, and the samples pane with it."""
        moved = self.model.sync_follow()
        self.redraw()
        if moved:
            self.post_message(ChartCursorMoved(self.model.cursor))

    # ---- layout
    def on_resize(self) -> None:
        self.fit_to_size()

    def desired_shape(self) -> tuple[int, int]:
        columns, rows = grid_shape(self.size.width, max(self.size.height - 1, 1))
        keys = len(self.model.keys())
        # fewer metrics than cells: give them the room (one metric gets the whole pane)
        while columns * rows > max(keys, 1):
            if columns >= rows and columns > 1 and (columns - 1) * rows >= keys:
                columns -= 1
            elif rows > 1 and columns * (rows - 1) >= keys:
                rows -= 1
            elif columns > 1 and (columns - 1) * rows >= keys:
                columns -= 1
            else:
                break
        return columns, rows

    def fit_to_size(self) -> None:
        if not self.is_mounted or not self.size.width:
            return
        cells = self.query_one("#chart-cells", Grid)
        columns, rows = self.shape = self.desired_shape()
        self.model.per_page = columns * rows
        cells.styles.grid_size_columns = columns
        cells.styles.grid_size_rows = rows
        charts = list(cells.query(MetricChart))
        if len(charts) < columns * rows:
            cells.mount_all(MetricChart(classes="grid-chart") for _ in range(columns * rows - len(charts)))
        elif len(charts) > columns * rows:
            for chart in charts[columns * rows :]:
                chart.remove()
        self.call_after_refresh(self.redraw)

    # ---- drawing
    def redraw(self) -> None:
        if not self.is_mounted:
            return
        model = self.model
        keys_total = len(model.keys())
        if self.size.width and self.desired_shape() != self.shape:
            self.fit_to_size()
            return
        shown = model.page()
        charts = list(self.query_one("#chart-cells").query(MetricChart))
        for index, chart in enumerate(charts):
            key = shown[index] if index < len(shown) else None
            series = model.series_for(key) if key is not None else []
            merged = key is not None and model.merges.is_merged(key)
            chart.show(
                key,
                series,
                selected=index == model.selected and self.has_focus,
                pinned=key is not None and any(k in model.order.pinned for k in model.merges.members(key)),
                marked=key in model.marked,
                heatmap=model.heatmap_for(key) if key is not None else None,
                log_y=key in model.log_y,
                x_range=model.x_range(),
                cursor_step=model.cursor,
                x_integer=model.x_axis != "time",
                x_unit=X_UNITS[model.x_axis],
                max_legend_lines=max(3, min(len(series), 4)) if merged else 3,
            )
        empty = self.query_one("#chart-empty", Static)
        any_rows = any(run.columns for run in model.runs)
        empty.display = not shown
        if not shown:
            empty.update("Waiting for the first step…" if not any_rows else f"No metric matches /{model.filter_text}/.")
        self.query_one("#chart-readout", Static).update(self.readout(keys_total))
        if shown and charts and self.after_first_draw is not None:
            callback, self.after_first_draw = self.after_first_draw, None
            self.call_after_refresh(callback)

    def readout(self, keys_total: int) -> Content:
        model = self.model
        parts: list = []
        if model.follow:
            parts += [("▶ following ", "bold $text-success")]
        if model.cursor is not None:
            parts += [("cursor ", "$text-muted"), (f"step {compact(model.cursor, 6)}", "bold $text-accent")]
            if model.x_axis != "step" and model.runs:
                axis = model.runs[0].axis(model.x_axis)
                if axis:
                    at = value_at(axis[0], axis[1], model.cursor)
                    if at:
                        text = format_duration(at[1]) if model.x_axis == "time" else f"{compact(at[1])} tok"
                        parts += [f" ({text})"]
            if not model.follow:
                parts += [(" (End follows)", "$text-muted")]
            parts += ["  "]
        if model.zoom is not None:
            parts += [("zoom ", "$text-muted"), (f"{compact(model.zoom[0], 6)}–{compact(model.zoom[1], 6)}", "bold"), "  "]
        elif model.zoom_mark is not None:
            parts += [(f"zoom from {compact(model.zoom_mark, 6)}: move, z again  ", "$text-warning")]
        if model.marked:
            parts += [(f"{len(model.marked)} marked (g merges)  ", "bold $text-warning")]
        if model.filter_text:
            parts += [("filter ", "$text-muted"), (f"/{model.filter_text}/", "bold"), "  "]
            if model.filter_error:
                parts += [(model.filter_error + "  ", "$text-warning")]
        shown = len(model.page())
        parts += [
            ("page ", "$text-muted"), (f"{model.page_index + 1}/{model.page_count()}", "bold"),
            (f" ({shown} of {keys_total} charts)  ", "$text-muted"),
            ("smoothing ", "$text-muted"), (f"{model.smoothing:.2f}", "bold"),
            ("  x ", "$text-muted"), (model.x_axis, "bold"),
        ]
        if self.message:
            parts += ["  ", (self.message, "$text-warning")]
        return Content.assemble(*parts)

    def on_focus(self) -> None:
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()

    def _changed(self, message: str = "", cursor: bool = False, layout: bool = False) -> None:
        self.message = message
        self.redraw()
        if cursor:
            self.post_message(ChartCursorMoved(self.model.cursor))
        if layout:
            self.layout_changed()

    # ---- actions
    def action_start_filter(self) -> None:
        self.add_class("-filtering")
        box = self.query_one("#chart-filter", Input)
        box.value = self.model.filter_text
        focus_now(box)

    @on(Input.Changed, "#chart-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.model.set_filter(event.value)
        self.fit_to_size()
        self.redraw()

    @on(Input.Submitted, "#chart-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-filtering")
        self.focus()
        self.layout_changed()

    def on_key(self, event) -> None:
        box = self.query_one("#chart-filter", Input)
        if open_filter_in_order(event, box, self.action_start_filter):
            return
        if event.key == "escape" and box.has_focus:
            event.stop()
            event.prevent_default()
            box.value = ""
            self.model.set_filter("")
            self.remove_class("-filtering")
            self.focus()
            self.fit_to_size()
            self.layout_changed()

    def action_cursor(self, delta: int) -> None:
        self.model.move_cursor(delta)
        self._changed(cursor=True)

    def action_jump(self, fraction: float) -> None:
        self.model.jump_cursor(fraction)
        self._changed(cursor=True)

    def action_cursor_first(self) -> None:
        self.model.cursor_to_start()
        self._changed(cursor=True)

    def action_follow(self) -> None:
        self.model.follow_newest()
        self._changed(cursor=True)

    def action_select(self, delta: int) -> None:
        self.model.move_selection(delta)
        self._changed()

    def action_page(self, delta: int) -> None:
        self.model.turn_page(delta)
        self._changed()

    def action_zoom(self) -> None:
        outcome = self.model.zoom_key()
        self._changed("" if outcome != "too narrow" else "move the cursor away from the mark, then z", cursor=True)

    def action_unzoom(self) -> None:
        self.model.reset_zoom()
        self._changed()

    def action_pin(self) -> None:
        self.model.toggle_pin()
        self._changed(layout=True)

    def action_mark(self) -> None:
        marked = self.model.toggle_mark()
        self._changed("" if marked else "a distribution chart cannot be merged")

    def action_merge(self) -> None:
        outcome = self.model.merge_or_split()
        done = outcome in ("merged", "split")
        self._changed("" if done else outcome, layout=done)

    def action_log(self) -> None:
        self.model.toggle_log()
        self._changed(layout=True)

    def action_smoothing(self) -> None:
        self.model.toggle_smoothing()
        self._changed(layout=True)

    def action_smoother(self, delta: int) -> None:
        self.model.adjust_smoothing(delta)
        self._changed(layout=True)

    def action_x_axis(self) -> None:
        before = self.model.x_axis
        after = self.model.cycle_x_axis()
        self._changed("" if after != before else "this run logs no step times or token counts", layout=after != before)

    def action_reset_layout(self) -> None:
        """`R`: the default layout (the workflow's headline charts pinned, no merges, default
        smoothing, steps, no filter); the saved one for this kind of run is removed."""
        apply_layout(self.model, GridLayout())
        self.fit_to_size()
        self._changed("default layout")
        if self.layouts is not None:
            self.save_layout(*self.layouts, None)

    async def action_clear(self) -> None:
        model = self.model
        if model.zoom_mark is not None or model.zoom is not None:
            model.reset_zoom()
        elif model.cursor is not None and not model.follow:
            # back to the default: following the newest step (run screen) or no cursor (compare)
            if self.follow_by_default:
                model.follow_newest()
            else:
                model.cursor = None
            self._changed(cursor=True)
            return
        elif model.filter_text:
            model.set_filter("")
            self.fit_to_size()
            self.layout_changed()
        else:
            await self.run_action("screen.back")
            return
        self._changed()
