"""workvoice: a safe voice for garment-factory workers, over Telegram and a small web console."""

__version__ = "0.1.0"
