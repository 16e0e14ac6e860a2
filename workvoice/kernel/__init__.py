"""The kernel every layer may import: settings, the runtime (database) context, metrics, the
privacy-safe log formatter and reading the message catalogs. It imports storage and i18n only,
never a capability or a channel."""
