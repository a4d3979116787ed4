"""Text as a reader sees it, for filters that check words: look-alike letters folded, invisible characters gone.

A filter that matches words ("approve", "kubectl") is blind to the same word spelled with a Cyrillic a (U+0430), split
by a zero-width space or written in fullwidth letters, though a reader sees it plainly. `visible(text)` and
`folded(text)` undo those: NFKC (fullwidth and mathematical letters, ligatures, compatibility forms), then every
format character (Unicode category Cf: zero-width spaces and joiners, bidi controls, soft hyphens, word joiners),
then (`folded`) the Cyrillic, Greek and Armenian letters that Unicode's confusables data lists as look-alikes of
Latin ones. Look-alikes outside that
table are caught by `mixes_scripts`: a word that mixes Latin letters with letters of another script is not
ordinary prose, so a filter can refuse it rather than guess.
"""

from __future__ import annotations

import re
import unicodedata

# Look-alikes of Latin letters (Unicode confusables.txt: the single-letter prototypes of Cyrillic, Greek and
# Armenian letters, and of Latin letters that read as plain ones), each written as its code point.
_LOOKALIKES = (
    "\u0430\u0432\u0435\u0451\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0457"
    "\u0458\u04bb\u0501\u051b\u051d\u04cf\u0578\u043a\u043c\u043d\u0442\u044c"
    "\u0475\u0261\u0410\u0412\u0415\u0401\u041a\u041c\u041d\u041e\u0420\u0421"
    "\u0422\u0425\u0423\u0406\u0407\u0408\u0405\u051a\u051c\u04c0\u042c\u0474"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4"
    "\u03a5\u03a7\u03b1\u03bf\u03bd\u03b9\u03ba\u03c1\u03c4\u03c5\u03c7\u03b3"
    "\u03f2\u03f3\u0585\u057d\u0581\u0570\u0566\u0555\u054d\u0131\u0237\u0251"
    "\u0269\u028f"
)
_LATIN = (
    "abeeopcyxsiijhdqwlnkmhtbvgABEEKMHOPCTXYIIJSQWIbVABEZHIKMNOPT"
    "YXaovikptuxycjoughqOUijaiy"
)
_CONFUSABLES = str.maketrans(_LOOKALIKES, _LATIN)
_WORD = re.compile(r"[^\W\d_]+")


def visible(text: str) -> str:
    """`text` with compatibility forms normalised (NFKC) and format characters removed: what a reader sees.
    ASCII text comes back unchanged."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def folded(text: str) -> str:
    """`visible(text)` with look-alike letters folded to the Latin letters they imitate (for matching words)."""
    return visible(text).translate(_CONFUSABLES)


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "?"


def mixes_scripts(text: str) -> bool:
    """Whether a word of `text` mixes Latin letters with letters of another script (after `visible`)."""
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {_script(ch) for ch in word}
        if "LATIN" in scripts and len(scripts) > 1:
            return True
    return False


# Markup characters and their look-alikes that no channel formats: asterisk operator, tilde operator, modifier
# grave; an underscore that could open or close italics becomes a fullwidth low line.
_INERT = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_ITALIC = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LINK = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}):/+([^\s/?#]*)|\bwww\.([^\s/?#]*)")


def plain(text: str) -> str:
    """Telemetry made inert inside a chat message: no bold, italics, strike or code markup, and no link (the scheme
    and the dots of a linked host defanged: `https[:]//evil[.]example/x`, `www[.]evil[.]example`)."""
    text = _ITALIC.sub("\uff3f", text.translate(_INERT))

    def defang(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return f"{m.group(1)}[:]//" + m.group(2).replace(".", "[.]")
        return "www[.]" + m.group(3).replace(".", "[.]")

    return _LINK.sub(defang, text)
