"""The account's training runs and checkpoints on Tinker (or TINKER_BASE_URL): browse, sample two
checkpoints side by side, download, publish, set a TTL, delete, start a recipe from one.

Every remote call runs in a thread worker that posts a message back; the screen never blocks on
the network. The source of runs is `AppConfig.remote` (tests give it a fixed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from cookbook_tui.runners.remote import format_size
from cookbook_tui.screens.base import CookbookScreen
from cookbook_tui.screens.dialogs import AskScreen, ConfirmScreen


@dataclass
class RemoteRunsLoaded(Message):
    runs: list[Any]


@dataclass
class RemoteCheckpointsLoaded(Message):
    run_id: str
    checkpoints: list[Any]


@dataclass
class RemoteFailed(Message):
    what: str
    message: str


@dataclass
class RemoteDone(Message):
    message: str
    reload_checkpoints: bool = True


@dataclass
class RemoteChatReply(Message):
    checkpoint: str
    prompt: str
    reply: str


@dataclass
class RemoteSampled(Message):
    prompt: str
    answers: list[tuple[str, str]]  # (checkpoint, completion or error)


RUN_COLUMNS = ("run id", "base model", "last request", "local run")


def _short_time(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] if iso else "-"


class RemoteScreen(CookbookScreen):
    TITLE = "Tinker runs"

    BINDINGS = [
        Binding("space", "mark", "Mark", id="remote.mark"),
        Binding("c", "chat", "Chat", id="remote.chat"),
        Binding("s", "sample_marked", "Sample marked", id="remote.sample"),
        Binding("w", "download", "Download", id="remote.download"),
        Binding("p", "publish", "Publish/unpublish", id="remote.publish"),
        Binding("t", "ttl", "TTL", id="remote.ttl"),
        Binding("d", "delete", "Delete", id="remote.delete"),
        Binding("n", "new_recipe", "Recipe from it", id="remote.recipe"),
        Binding("ctrl+l", "reload", "Reload", id="remote.reload"),
        Binding("escape", "back", "Back", id="remote.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Any] = []
        self.checkpoints: list[Any] = []
        self.run_id: str | None = None
        self.marked: list[str] = []  # sampler checkpoint paths, in marking order (two at most)
        self.conversations: dict[str, list[dict[str, str]]] = {}  # per sampler checkpoint
        self._remote: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Connecting…", id="remote-where")
        yield DataTable(id="remote-runs", cursor_type="row", zebra_stripes=True)
        yield Static(id="remote-run-detail")
        yield DataTable(id="remote-checkpoints", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="remote-samples"):
            yield Static(id="remote-sample-a", classes="remote-sample")
            yield Static(id="remote-sample-b", classes="remote-sample")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#remote-runs", DataTable)
        runs.add_columns(*RUN_COLUMNS)
        checkpoints = self.query_one("#remote-checkpoints", DataTable)
        checkpoints.add_columns(" ", "kind", "name", "size", "created", "expires", "public")
        self.query_one("#remote-samples").display = False
        runs.focus()
        self.action_reload()

    # -- the source ----------------------------------------------------------------------------

    def remote(self) -> Any:
        if self._remote is None:
            self._remote = self.app.config.remote()
        return self._remote

    def _run_in_worker(self, what: str, fn: Any, *, done: str | None = None, reload: bool = True) -> None:
        self._call(what, fn, done, reload)

    @work(thread=True, exit_on_error=False, group="remote", description="Tinker")
    def _call(self, what: str, fn: Any, done: str | None, reload: bool) -> None:
        try:
            result = fn()
        except Exception as exc:  # RemoteError and the like: shown, never a crash
            self.post_message(RemoteFailed(what, str(exc)))
            return
        if isinstance(result, Message):
            self.post_message(result)
        elif done:
            self.post_message(RemoteDone(done, reload))

    def action_reload(self) -> None:
        roots = [self.app.config.runs_dir]
        self._run_in_worker("list training runs", lambda: RemoteRunsLoaded(self.remote().runs(roots)))

    # -- tables --------------------------------------------------------------------------------

    @on(RemoteRunsLoaded)
    def show_runs(self, message: RemoteRunsLoaded) -> None:
        self.runs = message.runs
        table = self.query_one("#remote-runs", DataTable)
        table.clear(columns=True)  # columns sized afresh to the new rows
        table.add_columns(*RUN_COLUMNS)
        for run in self.runs:
            local = Path(run.local_run_dir).name if run.local_run_dir else ""
            # Text, not markup: model ids like "3f2a:train:0" would otherwise turn into emoji
            table.add_row(Text(run.run_id), Text(run.base_model), _short_time(run.last_request), Text(local), key=run.run_id)
        where = getattr(self._remote, "where", "Tinker")
        self.query_one("#remote-where", Static).update(
            f" {len(self.runs)} training run{'s' if len(self.runs) != 1 else ''} on {where}"
        )
        if self.runs:
            self._load_checkpoints(self.runs[0].run_id)

    @on(DataTable.RowHighlighted, "#remote-runs")
    def run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        run_id = event.row_key.value if event.row_key is not None else None
        if run_id and run_id != self.run_id:
            self._load_checkpoints(run_id)

    def _load_checkpoints(self, run_id: str) -> None:
        self.run_id = run_id
        self._run_in_worker(
            f"list checkpoints of {run_id}",
            lambda: RemoteCheckpointsLoaded(run_id, self.remote().checkpoints(run_id)),
        )

    @on(RemoteCheckpointsLoaded)
    def show_checkpoints(self, message: RemoteCheckpointsLoaded) -> None:
        if message.run_id != self.run_id:
            return  # the cursor moved on meanwhile
        self.checkpoints = message.checkpoints
        self._draw_checkpoints()
        run = next((r for r in self.runs if r.run_id == self.run_id), None)
        detail = ""
        if run is not None:
            rank = f"LoRA rank {run.lora_rank}" if run.is_lora else "full"
            local = f"   local: {run.local_run_dir}" if run.local_run_dir else ""
            detail = f" {run.run_id}  {run.base_model}  {rank}{local}"
        self.query_one("#remote-run-detail", Static).update(Text(detail))

    def _draw_checkpoints(self) -> None:
        table = self.query_one("#remote-checkpoints", DataTable)
        cursor = table.cursor_row
        table.clear()
        for c in self.checkpoints:
            mark = "*" if c.tinker_path in self.marked else " "
            table.add_row(
                mark, c.kind, Text(c.checkpoint_id.rsplit("/", 1)[-1]), format_size(c.size_bytes), _short_time(c.created),
                _short_time(c.expires) if c.expires else "never", "yes" if c.public else "no",
                key=c.tinker_path,
            )
        if self.checkpoints:
            table.move_cursor(row=min(cursor, len(self.checkpoints) - 1))

    @property
    def selected(self) -> Any | None:
        table = self.query_one("#remote-checkpoints", DataTable)
        if not self.checkpoints or table.cursor_row is None or table.cursor_row >= len(self.checkpoints):
            return None
        return self.checkpoints[table.cursor_row]

    def _need_checkpoint(self) -> Any | None:
        checkpoint = self.selected
        if checkpoint is None:
            self.notify("Pick a checkpoint first (Tab to the checkpoints table).", severity="warning")
        return checkpoint

    @on(RemoteFailed)
    def failed(self, message: RemoteFailed) -> None:
        self.notify(f"{message.what}: {message.message}", severity="error", timeout=10)
        if not self.runs:
            self.query_one("#remote-where", Static).update(f" {message.message}")

    @on(RemoteDone)
    def done(self, message: RemoteDone) -> None:
        self.notify(message.message)
        if message.reload_checkpoints and self.run_id:
            self._load_checkpoints(self.run_id)

    # -- actions -------------------------------------------------------------------------------

    def action_mark(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return
        if checkpoint.kind != "sampler":
            self.notify("Only sampler checkpoints can be sampled; mark a sampler_weights row.", severity="warning")
            return
        if checkpoint.tinker_path in self.marked:
            self.marked.remove(checkpoint.tinker_path)
        else:
            self.marked = (self.marked + [checkpoint.tinker_path])[-2:]
        self._draw_checkpoints()

    def action_sample_marked(self) -> None:
        if not self.marked:
            self.notify("Mark one or two sampler checkpoints (space) to sample them.", severity="warning")
            return
        paths = list(self.marked)

        def ask(prompt: str | None) -> None:
            if prompt:
                self._run_in_worker("sample", lambda: RemoteSampled(prompt, self.remote().sample_each(paths, prompt)))

        self.app.push_screen(AskScreen("Prompt for the marked checkpoints", placeholder="What is 3+4?"), ask)

    @on(RemoteSampled)
    def show_samples(self, message: RemoteSampled) -> None:
        self.query_one("#remote-samples").display = True
        self.query_one("#remote-sample-b", Static).display = len(message.answers) > 1
        panes = [self.query_one("#remote-sample-a", Static), self.query_one("#remote-sample-b", Static)]
        for pane, (path, text) in zip(panes, message.answers + [("", "")] * (2 - len(message.answers)), strict=False):
            shown = Text(path.rsplit("/", 2)[-1], style="bold") + Text(f"\n{message.prompt}\n→ {text}") if path else ""
            pane.update(shown)

    def action_chat(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return
        if checkpoint.kind != "sampler":
            self.notify("Chat needs a sampler checkpoint (sampler_weights).", severity="warning")
            return
        path = checkpoint.tinker_path
        history = self.conversations.setdefault(path, [])

        def ask(text: str | None) -> None:
            if not text:
                return
            messages = history + [{"role": "user", "content": text}]
            # the history grows only once the reply is in, so a failed turn is not sent again
            self._run_in_worker(
                f"chat with {path}", lambda: RemoteChatReply(path, text, self.remote().chat(path, messages))
            )

        self.app.push_screen(AskScreen(f"Message to {path.rsplit('/', 2)[-1]}", placeholder="What is 3+4?"), ask)

    @on(RemoteChatReply)
    def show_chat(self, message: RemoteChatReply) -> None:
        history = self.conversations.setdefault(message.checkpoint, [])
        history += [{"role": "user", "content": message.prompt}, {"role": "assistant", "content": message.reply}]
        self.query_one("#remote-samples").display = True
        transcript = Text(message.checkpoint.rsplit("/", 2)[-1], style="bold")
        for turn in history[-12:]:
            transcript.append(f"\n{'you' if turn['role'] == 'user' else 'model'}: {turn['content']}")
        self.query_one("#remote-sample-a", Static).update(transcript)
        self.query_one("#remote-sample-b", Static).display = False

    def action_download(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return
        run_id = self.run_id or "run"
        name = checkpoint.checkpoint_id.rsplit("/", 1)[-1]
        suggestion = str(Path("downloads") / f"{run_id}_{checkpoint.kind}_{name}".replace(":", "-"))

        def ask(folder: str | None) -> None:
            if folder:
                self._run_in_worker(
                    f"download {checkpoint.tinker_path}",
                    lambda: self.remote().download(checkpoint.tinker_path, Path(folder)),
                    done=f"Downloaded {checkpoint.checkpoint_id} into {folder}", reload=False,
                )

        self.app.push_screen(AskScreen(f"Download {checkpoint.tinker_path} into", suggestion), ask)

    def action_publish(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return
        public = not checkpoint.public
        verb = "Published" if public else "Unpublished"
        self._run_in_worker(
            f"{verb.lower()[:-2]} {checkpoint.tinker_path}",
            lambda: self.remote().publish(checkpoint.tinker_path, public=public),
            done=f"{verb} {checkpoint.checkpoint_id}",
        )

    def action_ttl(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return

        def ask(answer: str | None) -> None:
            if answer is None:
                return
            if answer == "forever":
                seconds = None
            elif answer.isdigit():
                seconds = int(answer)
            else:
                self.notify(f"A TTL is a number of seconds or 'forever', not {answer!r}.", severity="error")
                return
            self._run_in_worker(
                f"set the TTL of {checkpoint.tinker_path}",
                lambda: self.remote().set_ttl(checkpoint.tinker_path, seconds),
                done=f"{checkpoint.checkpoint_id}: " + ("kept forever" if seconds is None else f"expires in {seconds} s"),
            )

        self.app.push_screen(AskScreen("Expire after how many seconds? ('forever' keeps it)", "604800"), ask)

    def action_delete(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._run_in_worker(
                    f"delete {checkpoint.tinker_path}",
                    lambda: self.remote().delete(checkpoint.tinker_path),
                    done=f"Deleted {checkpoint.tinker_path}",
                )

        self.app.push_screen(ConfirmScreen(f"Delete {checkpoint.tinker_path}? This cannot be undone.", "Delete"), confirmed)

    def action_new_recipe(self) -> None:
        checkpoint = self._need_checkpoint()
        if checkpoint is None:
            return
        if checkpoint.kind != "training":
            self.notify("A recipe resumes from a training checkpoint (weights), not sampler weights.", severity="warning")
            return
        run = next((r for r in self.runs if r.run_id == self.run_id), None)
        from cookbook_tui.recipes.from_checkpoint import recipe_from_checkpoint

        entry = recipe_from_checkpoint(
            checkpoint.tinker_path,
            base_model=run.base_model if run else "",
            local_run_dir=Path(run.local_run_dir) if run and run.local_run_dir else None,
            recipes_dir=self.app.config.recipes_dir,
            renderer=(run.user_metadata or {}).get("renderer_name") if run else None,
        )
        self.app.open_editor(entry)

    def on_unmount(self) -> None:
        if self._remote is not None and hasattr(self._remote, "close"):
            self._remote.close()  # the SDK's heartbeat and connection threads

    def action_back(self) -> None:
        self.dismiss()
