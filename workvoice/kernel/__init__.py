"""The kernel every layer may import: settings, the runtime (database) context, metrics and the
privacy-safe log formatter. It imports storage and i18n only, never a capability or a channel."""
