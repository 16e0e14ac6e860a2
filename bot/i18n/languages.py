"""The sixteen languages workvoice speaks (DESIGN.md §3), each named in its own script."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    native_name: str
    english_name: str
    rtl: bool = False


_ALL = (
    Language("en", "English", "English"),
    Language("bn", "বাংলা", "Bangla"),
    Language("km", "ខ្មែរ", "Khmer"),
    Language("am", "አማርኛ", "Amharic"),
    Language("ht", "Kreyòl ayisyen", "Haitian Creole"),
    Language("fr", "Français", "French"),
    Language("id", "Bahasa Indonesia", "Indonesian"),
    Language("ar", "العربية", "Arabic", rtl=True),
    Language("es", "Español", "Spanish"),
    Language("vi", "Tiếng Việt", "Vietnamese"),
    Language("ur", "اردو", "Urdu", rtl=True),
    Language("si", "සිංහල", "Sinhala"),
    Language("ta", "தமிழ்", "Tamil"),
    Language("hi", "हिन्दी", "Hindi"),
    Language("ne", "नेपाली", "Nepali"),
    Language("my", "မြန်မာ", "Burmese"),
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _ALL}
SOURCE_LOCALE = "en"


def supported(code: str | None) -> str | None:
    """Map a Telegram ``language_code`` (``pt-br``, ``bn``, ``ar-JO``) to a supported locale."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def is_rtl(code: str) -> bool:
    lang = LANGUAGES.get(code)
    return bool(lang and lang.rtl)
