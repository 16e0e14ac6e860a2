"""The Telegram side of workvoice. Importing this package imports no aiogram: submodules do."""
