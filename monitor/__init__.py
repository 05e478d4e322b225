"""The monitor's models without a screen: run dirs followed, chart series and layout, drawing to
styled text, run comparison, the chat client. No textual (an import-linter contract), so each is
tested without the app."""
