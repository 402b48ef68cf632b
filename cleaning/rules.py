"""General multilingual cleaning rules (precompiled patterns) and the per-outlet rule type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class OutletRules:
    """Per-outlet additions to the general rules; they never replace them."""

    name: str | None = None
    language: str | None = None
    # extra regexes; a paragraph matching one (re.search, case-insensitive) is removed
    boilerplate_patterns: tuple[str, ...] = ()
    # extra XPath expressions selecting comment containers in HTML
    comment_xpaths: tuple[str, ...] = ()
    # some outlets render the drop cap as a separate letter glued to the first word
    # ("IWarnings"); only an outlet known to do so should enable this repair: on any other page
    # the same shape is a name ("ВКонтакте", "CNews", "TVyNovelas")
    repair_glued_drop_cap: bool = False  # "IWarnings" → "Warnings" when an outlet turns it on


@lru_cache(maxsize=256)
def compile_outlet_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile an outlet's extra patterns once (outlet rules are frozen, hence hashable)."""
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _alt(words: list[str]) -> str:
    return "|".join(words)


_F = re.IGNORECASE | re.UNICODE

# Per language, so that adding a language is adding a list entry. All languages are applied
# to every page: comments and sidebars are often in another language than the article.
TEASER_MARKERS: dict[str, list[str]] = {
    "pl": [r"czytaj (?:także|też|również)", r"zobacz (?:też|także|również)"],
    "en": [
        r"also read",
        r"read also",
        r"read more",
        r"related",
        r"see also",
        r"more on this",
        r"recommended",
        r"you may also like",
        r"you might also like",
        r"don'?t miss",
        r"most read",
        r"most read in [\w ]+",
        r"more from [\w .]+",
        r"related (?:articles|stories|posts?|news)",
        r"popular on [\w .]+",
        r"trending",
        r"explore further",
        r"see more",
        r"more stories",
        r"top stories",
        r"further reading",
        r"recommended for you",
        r"more:",
    ],
    "de": [
        r"lesen sie auch",
        r"auch interessant",
        r"mehr zum thema",
        r"weiterlesen",
        r"siehe auch",
        r"das könnte sie auch interessieren",
        r"meistgelesen",
        r"empfehlungen",
        r"passend dazu",
        r"zum thema",
        r"weitere artikel",
    ],
    "ru": [
        r"читайте также",
        r"смотрите также",
        r"читать также",
        r"по теме",
        r"ещ[её] по теме",
        r"рекомендуем",
        r"самое читаемое",
        r"популярное",
        r"читать далее",
        r"новости по теме",
    ],
    "uk": [
        r"читайте також",
        r"дивіться також",
        r"за темою",
        r"по темі",
        r"рекомендуємо",
        r"популярне",
        r"новини на тему",
    ],
    "fr": [
        r"[àa] lire aussi",
        r"lire aussi",
        r"voir aussi",
        r"sur le m[êe]me sujet",
        r"[àa] voir aussi",
        r"les plus lus",
        r"lire la suite",
        r"nos articles",
    ],
    "es": [
        r"lee también",
        r"lea también",
        r"leer más",
        r"te puede interesar",
        r"ver también",
        r"noticias relacionadas",
        r"lo más leído",
        r"más información",
        r"relacionad[oa]s?",
        r"leia também",
        r"leggi anche",
    ],
}

COMMENTS_CLOSED: dict[str, list[str]] = {
    "en": [
        r"comments are closed",
        r"commenting (?:is|has been) (?:closed|disabled)",
        r"comments closed",
    ],
    "de": [
        r"kommentare sind geschlossen",
        r"die kommentarfunktion ist (?:deaktiviert|geschlossen)",
    ],
    "ru": [r"комментарии закрыты", r"комментирование (?:закрыто|отключено)"],
    "uk": [r"коментарі закриті", r"коментування (?:закрито|вимкнено)"],
    "fr": [r"les commentaires sont fermés", r"commentaires fermés"],
    "es": [r"los comentarios están cerrados", r"comentarios cerrados"],
}

# "leave a comment? log in" prompts and bare login links
COMMENT_PROMPT: dict[str, list[str]] = {
    "en": [
        r"(?:leave|post|write|add) a (?:comment|reply).*(?:log ?in|sign ?in|register)",
        r"you must be logged in to (?:post|leave) a comment",
        r"leave a (?:reply|comment)",
        r"post a comment",
        r"post comment(?: \(\+\))?",
        r"add a comment",
        r"join the (?:discussion|conversation)",
        r"want to join the (?:discussion|conversation)\?",
        r"feel free to contribute!?",
        r"this site uses akismet to reduce spam.*",
        r"tell us what you think\W*",
    ],
    "de": [
        r"(?:kommentar|kommentieren).*(?:anmelden|einloggen|registrieren)",
        r"kommentar schreiben",
        r"diskutieren sie mit",
    ],
    "ru": [r"(?:оставить|написать|добавить) комментарий.*", r"чтобы оставить комментарий.*"],
    "uk": [r"(?:залишити|написати|додати) коментар.*", r"щоб залишити коментар.*"],
    "fr": [r"(?:laisser|écrire|ajouter) un commentaire.*", r"réagissez"],
    "es": [r"(?:deja|dejar|escribe|añadir) (?:un|tu) comentario.*"],
}

LOGIN: dict[str, list[str]] = {
    "en": [r"log ?in", r"sign ?in", r"sign up", r"register", r"log ?in / register", r"my account"],
    "de": [r"anmelden", r"einloggen", r"registrieren", r"mein konto"],
    "ru": [r"войти", r"вход", r"регистрация", r"личный кабинет"],
    "uk": [r"увійти", r"вхід", r"реєстрація"],
    "fr": [r"se connecter", r"connexion", r"s'inscrire", r"mon compte"],
    "es": [r"iniciar sesión", r"entrar", r"registrarse", r"mi cuenta"],
}

NEWSLETTER: dict[str, list[str]] = {
    "en": [
        r"\bsubscribe (?:to|now|here|today)\b",
        r"\bnewsletters?\b",
        r"sign up for (?:our|free|email)",
        r"delivered (?:to|through) your (?:inbox|letterbox)",
        r"in your inbox",
        r"thanks for signing up",
        r"error processing your subscription",
        r"get the \w+ app",
        r"download (?:the|our) app",
        r"keep an eye on your inbox",
    ],
    "de": [
        r"\bnewsletter\b",
        r"\babonnieren\b",
        r"jetzt abonnieren",
        r"melden sie sich (?:jetzt )?an",
    ],
    "ru": [r"подписк[аиуе] на", r"подпишитесь", r"подписывайтесь", r"\bрассылк", r"подписаться"],
    "uk": [r"підписк[аиуі] на", r"підпишіться", r"підписуйтесь", r"\bрозсилк", r"підписатися"],
    "fr": [r"abonnez-vous", r"s'abonner", r"inscrivez-vous", r"lettre d'information"],
    "es": [r"suscríbete", r"suscribirse", r"\bboletín\b", r"recibe (?:las|nuestras) noticias"],
}

# appeals for money ("If you like our work, please support us"); a plain "support us" is left
# alone, because a politician quoted in the article says it too
DONATION: dict[str, list[str]] = {
    "en": [
        r"\bif you (?:like|enjoy|value|appreciate) (?:our|this|what we do)\b.{0,60}\b(?:support|donat)",
        r"\bsupport (?:our|independent) (?:work|journalism|reporting|site|website|blog|project)\b",
        r"\bplease (?:support|donate to) us\b.{0,80}\b(?:contribution|donation|independent|site)",
        r"\bdonate (?:now|today|here)\b",
        r"\bmake a donation (?:now|today|here|to us)\b",
        r"\bevery (?:contribution|donation)\b.{0,40}\bhelps? (?:us|keep|fund)",
        r"\bbecome a (?:patron|paying supporter)\b",
    ],
    "de": [
        r"\bunterstützen sie unsere arbeit\b",
        r"\bunterstützen sie uns\b.{0,80}\b(?:spende|unabhängig|journalismus)",
        r"\bjetzt spenden\b",
        r"\bjede spende\b.{0,40}\bhilft\b",
    ],
    "ru": [
        r"поддержите (?:наш проект|редакцию|нашу работу|независим\w* (?:журналистику|сми))",
        r"\bсделать пожертвование\b",
    ],
    "uk": [
        r"підтримайте (?:наш проєкт|наш проект|редакцію|нашу роботу|незалежн\w* журналістику)",
        r"\bзробити внесок\b.{0,40}\b(?:редакці|проєкт|проект)",
    ],
    "fr": [r"\bsoutenez notre (?:travail|journal|site|rédaction)\b", r"\bfaites un don\b"],
    "es": [
        r"\bapoya (?:nuestro|el) (?:trabajo|periodismo)",
        r"\bapóyanos\b.{0,80}\b(?:donaci|independiente|periodismo)",
        r"\bhaz una donación\b",
    ],
}

RIGHTS: dict[str, list[str]] = {
    "en": [
        r"all rights reserved",
        r"^©",
        r"^copyright\b",
        r"the rights to this material belong",
        r"placed by the copyright holder",
        r"reproduction (?:is )?(?:prohibited|forbidden)",
        r"do(?:es)? not (?:necessarily )?reflect the (?:editorial|views|position|opinion)",
        r"editorial board's position",
        r"our standards:",
    ],
    "de": [
        r"alle rechte vorbehalten",
        r"nachdruck (?:nur|verboten)",
        r"geben nicht (?:unbedingt )?die meinung",
    ],
    "ru": [
        r"все права защищены",
        r"перепечатка",
        r"при перепечатке",
        r"при использовании материалов",
        r"не (?:обязательно )?отражают (?:позицию|мнение) редакции",
        r"права на (?:этот|данный) материал",
    ],
    "uk": [
        r"всі права захищені",
        r"усі права захищені",
        r"передрук",
        r"не відображають (?:позицію|думку) редакції",
    ],
    "fr": [r"tous droits réservés", r"reproduction interdite", r"ne reflètent pas"],
    "es": [r"todos los derechos reservados", r"prohibida (?:su )?reproducción", r"no reflejan"],
}

# rights notices that name the rights holder (group "src"): on a syndicating outlet's page that
# is the original publisher ("The rights to this material belong to Rhein-Kurier International")
RIGHTS_OWNER: dict[str, list[str]] = {
    "en": [r"the rights to this (?:material|article|text) belong to\s*(?P<src>[^.]{2,60})"],
    "de": [r"die rechte an diesem (?:artikel|text|material) liegen bei\s*(?P<src>[^.]{2,60})"],
    "ru": [r"права на (?:этот|данный) материал принадлежат\s*(?P<src>[^.]{2,60})"],
    "uk": [r"права на (?:цей|даний) матеріал належать\s*(?P<src>[^.]{2,60})"],
}

# notices that name where the text was first published; group "src" is the source when given
SYNDICATION: dict[str, list[str]] = {
    "en": [
        r"originally (?:published|appeared) (?:by|in|on|at)\s*(?P<src>[^.]{2,60})?",
        r"original publication:?\s*(?P<src>.{2,60})?",
        r"first published (?:by|in|on|at)\s*(?P<src>[^.]{2,60})?",
        r"republished (?:with permission )?from\s*(?P<src>[^.]{2,60})?",
        r"first appeared (?:in|on|at)\s*(?P<src>[^.]{2,60})?",
        # an aggregator's own disclaimer ("InoSMI materials contain ratings of foreign media"):
        # it marks the text as syndicated, and the name in it is the aggregator, not the source
        r"[\w.\- ]{2,40} materials contain",
    ],
    "de": [
        r"erstveröffentlichung:?\s*(?P<src>.{2,60})?",
        r"zuerst erschienen (?:bei|in|auf)\s*(?P<src>[^.]{2,60})?",
    ],
    "ru": [
        r"оригинал публикации:?\s*(?P<src>.{2,60})?",
        r"впервые опубликовано (?:в|на)\s*(?P<src>[^.]{2,60})?",
        r"источник публикации:?\s*(?P<src>.{2,60})?",
    ],
    "uk": [
        r"оригінал публікації:?\s*(?P<src>.{2,60})?",
        r"вперше опубліковано (?:в|на|у)\s*(?P<src>[^.]{2,60})?",
    ],
    "fr": [
        r"publié initialement (?:par|dans|sur)\s*(?P<src>[^.]{2,60})?",
        r"publication originale:?\s*(?P<src>.{2,60})?",
    ],
    "es": [
        r"publicado originalmente (?:en|por)\s*(?P<src>[^.]{2,60})?",
        r"publicación original:?\s*(?P<src>.{2,60})?",
    ],
}

SHARE: dict[str, list[str]] = {
    "en": [
        r"share(?: this(?: article| story| post)?)?(?: on \w+)?",
        r"tweet",
        r"print",
        r"e-?mail",
        r"like this story\? share it.*",
        r"share on (?:facebook|twitter|whatsapp|linkedin)",
        r"follow us on .*",
        r"follow (?:@\w+|[\w .]+) on (?:twitter|facebook|instagram).*",
        r"click to tweet",
        # "We use cookies to ...", not "We use cookies as the test of a new oven"
        r"we use cookies(?:\s+(?:to|on|and|for|so)\b.*)?",
        r"this (?:web)?site uses cookies.*",
        r"accept(?: all)? cookies",
        r"cookie (?:settings|policy)",
        r"order reprints?",
        r"print article",
        r"reprints?",
        r"this article has been sent to.*",
        r"an error has occurred.*",
        r"thank you for (?:reading|subscribing|signing up|your (?:support|feedback|interest))\W*",
        r"advertisement",
    ],
    "de": [
        r"teilen",
        r"drucken",
        r"folgen sie uns.*",
        r"wir verwenden cookies.*",
        r"cookie-einstellungen",
    ],
    "ru": [
        r"поделиться",
        r"распечатать",
        r"мы используем (?:файлы )?cookie.*",
        r"подписывайтесь на нас.*",
    ],
    "uk": [
        r"поділитися",
        r"надрукувати",
        r"ми використовуємо (?:файли )?cookie.*",
        r"стежте за нами.*",
    ],
    "fr": [r"partager", r"imprimer", r"nous utilisons des cookies.*", r"suivez-nous.*"],
    "es": [r"compartir", r"imprimir", r"utilizamos cookies.*", r"síguenos.*"],
}

COMMENT_HEADERS: dict[str, list[str]] = {
    "en": [
        r"comments?",
        r"reader comments",
        r"\d+ (?:comments?|responses|replies)",
    ],
    "de": [r"kommentare?", r"leserkommentare", r"\d+ kommentare?"],
    "ru": [r"комментари[иейя]", r"\d+ комментари\w*"],
    "uk": [r"коментар[іів]*", r"\d+ коментар\w*"],
    "fr": [r"commentaires?", r"\d+ commentaires?"],
    "es": [r"comentarios?", r"\d+ comentarios?"],
}

# headers that open a comment section on some sites and title a section of the article on
# others ("Discussion", "Réactions"): a comment header only when comments follow it
COMMENT_HEADERS_MAYBE: dict[str, list[str]] = {
    "en": [r"discussion", r"responses"],
    "de": [r"diskussion"],
    "ru": [r"обсуждение"],
    "uk": [r"обговорення"],
    "fr": [r"réactions?"],
    "es": [r"debate"],
}

REPLY_MARKERS: dict[str, list[str]] = {
    "en": [r"reply", r"reply to this comment", r"↳", r"report", r"like", r"\d+ likes?", r"share"],
    "de": [r"antworten", r"melden", r"gefällt mir"],
    "ru": [r"ответить", r"пожаловаться", r"нравится"],
    "uk": [r"відповісти", r"поскаржитися", r"подобається"],
    "fr": [r"répondre", r"signaler", r"j'aime"],
    "es": [r"responder", r"denunciar", r"me gusta"],
}

PHOTO_CREDIT: dict[str, list[str]] = {
    "en": [
        r"image source",
        r"photo(?:s| credit)?",
        r"image(?: credit)?",
        r"picture",
        r"credit",
        r"illustration",
    ],
    "de": [r"foto", r"bild(?:quelle)?", r"quelle des bildes"],
    "ru": [r"фото", r"источник (?:фото|изображения)", r"иллюстрация"],
    "uk": [r"фото", r"джерело (?:фото|зображення)", r"ілюстрація"],
    "fr": [r"crédits? photo", r"photo", r"source de l'image", r"illustration"],
    "es": [r"foto(?:grafía)?", r"imagen", r"crédito"],
}

SOURCE_LINK: dict[str, list[str]] = {
    "en": [r"source", r"source site", r"source link", r"via"],
    "de": [r"quelle", r"quellseite"],
    "ru": [r"источник", r"сайт-источник"],
    "uk": [r"джерело"],
    "fr": [r"source de l'article", r"source"],
    "es": [r"fuente"],
}

BYLINE_WORDS = r"(?:by|von|par|por|autor|autorin|autora|autorka|автор|авторы|автори|автор матеріалу|text|texto|texte)"
ROLE_WORDS = re.compile(
    r"\b(?:correspondent|reporter|editor|writer|staff|contributor|columnist|analyst|journalist|"
    r"(?:sonder)?korrespondent(?:in)?|redakteur(?:in)?|autor(?:in)?|reporter(?:in)?|"
    r"journalist(?:in)?|kolumnist(?:in)?|"
    r"корреспондент\w*|редактор\w*|обозреватель|колумнист\w*|журналист\w*|"
    r"кореспондент\w*|оглядач\w*|журналіст\w*|"
    r"journaliste|rédact(?:eur|rice)|envoyée? spéciale?|correspondante?|chroniqueu(?:r|se)|"
    r"corresponsal|redactora?|periodista|enviad[oa] especial|columnista|reportera?)\b",
    _F,
)


def _line(groups: dict[str, list[str]], prefix: str = "", suffix: str = r"\W*") -> re.Pattern[str]:
    """One full-line pattern out of every language's alternatives."""
    words = [w for ws in groups.values() for w in ws]
    return re.compile(rf"^\W*{prefix}(?:{_alt(words)}){suffix}$", _F)


def _search(groups: dict[str, list[str]]) -> re.Pattern[str]:
    words = [w for ws in groups.values() for w in ws]
    return re.compile(rf"(?:{_alt(words)})", _F)


def _search_lower(groups: dict[str, list[str]]) -> re.Pattern[str]:
    """Like _search, but for text already lowercased (`str.lower()`): the patterns are written
    in lowercase, and without IGNORECASE the engine scans for literal prefixes, 2-7× faster."""
    words = [w for ws in groups.values() for w in ws]
    return re.compile(rf"(?:{_alt(words)})", re.UNICODE)


TEASER_MARKER_RE = _line(TEASER_MARKERS, suffix=r"\s*(?:\.\.\.|…)?\W*")
# "Read more: headline", "Related: headline", "Also on site.com headline"
TEASER_INLINE_RE = re.compile(
    rf"^\W*(?:{_alt([w for ws in TEASER_MARKERS.values() for w in ws])}|also on [\w.]+)\s*(?:(?P<sep>[:|–—-])|\s\w)",
    _F,
)
COMMENTS_CLOSED_RE = _search_lower(COMMENTS_CLOSED)  # search lowercased text
COMMENT_PROMPT_RE = _line(COMMENT_PROMPT, suffix=r".*")
# the prompt's own words, without a pattern's trailing ".*": what follows them tells a prompt
# ("Leave a comment below") from a sentence ("Leave a comment in the portal, the agency said")
_PROMPT_HEADS = [w.removesuffix(".*") for ws in COMMENT_PROMPT.values() for w in ws]
COMMENT_PROMPT_HEAD_RE = re.compile(rf"^\W*(?:{_alt(_PROMPT_HEADS)})", _F)
LOGIN_RE = _line(LOGIN)
NEWSLETTER_RE = _search_lower(NEWSLETTER)  # search lowercased text
# a call to sign up, on lowercased text: an imperative first, or "our"/"your" newsletter/inbox
NEWSLETTER_CTA_RE = re.compile(
    r"^\W*(?:sign up|subscribe|register|get|receive|join|don't miss|abonnieren|melden sie|"
    r"jetzt|подпиш|подписыв|підпиш|підписуй|abonnez|inscrivez|recevez|suscr[ií]b|rec[ií]be|"
    r"reg[ií]strate)|\b(?:our|your|unser\w*|ihr\w*|наш\w*|ваш\w*|notre|votre|nuestro|tu|su)\s+"
    r"(?:\w+\s+)?(?:newsletters?|inbox|postfach|рассылк\w*|розсилк\w*|boletín|lettre)"
)
DONATION_RE = _search_lower(DONATION)  # search lowercased text
# a cheap first look, on lowercased text: every DONATION pattern holds one of these stems
DONATION_HINT_RE = re.compile(
    r"support|donat|donaci|contribut|patron|spend|unterstütz|поддерж|пожертв|підтрима|внесок|"
    r"soutenez|un don|apoy|apóy"
)
RIGHTS_RE = _search_lower(RIGHTS)  # search lowercased text
# "do not reflect the views" is a disclaimer only about the text itself ("The views expressed in
# this article do not reflect ..."); "The official figures do not reflect the views of most
# farmers" is news. On lowercased text, before the match.
REFLECT_RE = re.compile(r"reflect|geben nicht|отражают|відображають|reflètent|reflejan")
DISCLAIMER_SUBJECT_RE = re.compile(
    r"\b(?:views?|opinions?|articles?|materials?|content|authors?|contributors?|columns?|"
    r"publications?|statements?|posts?|texts?|beitr(?:ag|äge)|artikel|autor\w*|meinung\w*|"
    r"inhalte?|материал\w*|стать\w*|автор\w*|мнени\w*|публикаци\w*|точк\w* зрения|"
    r"матеріал\w*|статт\w*|думк\w*|публікаці\w*|propos|auteurs?|contenus?|tribunes?|"
    r"opiniones|artículos?|autor(?:es)?|contenidos?|columnas?)\b"
)
SYNDICATION_RES = tuple(re.compile(p, _F) for ws in SYNDICATION.values() for p in ws)
RIGHTS_OWNER_RES = tuple(re.compile(p, _F) for ws in RIGHTS_OWNER.values() for p in ws)


def _hint(pattern: str) -> str:
    """The fixed words of a notice pattern: what precedes the named source, without a leading
    character class, so a search over a whole page starts from literal text (a leading class
    such as "any word characters, 2 to 40" would be tried at every position of the page)."""
    head = pattern.split("(?P<src>", 1)[0]
    head = re.sub(r"^\[[^\]]*\]\{\d+,\d+\}\s*", "", head)
    return re.sub(r"(?:\\s\*|:\?| )+$", "", head)  # a trailing `:?\s*` adds nothing


# Whether a page's lowercased text holds any provenance notice at all: one pass over the text,
# so the element-by-element look for them is skipped on the pages (nearly all) without one.
PROVENANCE_HINT_RE = _search_lower(
    {"all": [_hint(p) for g in (SYNDICATION, RIGHTS_OWNER) for ws in g.values() for p in ws]}
)
# the same, to tell on lowercased text whether a line is a notice at all (see _search_lower)
SYNDICATION_LOWER_RES = tuple(re.compile(p, re.UNICODE) for ws in SYNDICATION.values() for p in ws)
SHARE_RE = _line(SHARE)
COMMENT_HEADER_RE = _line(COMMENT_HEADERS, suffix=r"\s*(?:\(\d+\))?\W*")
COMMENT_HEADER_MAYBE_RE = _line(COMMENT_HEADERS_MAYBE, suffix=r"\W*")
# "Discussion (12)": a count makes an ambiguous header a comment header
COMMENT_HEADER_COUNTED_RE = _line(COMMENT_HEADERS_MAYBE, suffix=r"\s*\(\d+\)\W*")
REPLY_RE = _line(REPLY_MARKERS)
PHOTO_CREDIT_RE = re.compile(
    rf"^\W*(?:{_alt([w for ws in PHOTO_CREDIT.values() for w in ws])})\s*(?::|©)\s*(?P<credit>.+)$",
    _F,
)
# "(Photo by X/Getty Images)", "Photo: Reuters", "© AFP"
PHOTO_AGENCY_RE = re.compile(
    r"^\(?(?:photo|image|foto|фото)\s+(?:by|von|de|par|por)\s+.+\)?$|"
    r"^©\s*[\w .,/&-]{2,80}$|\b(?:getty images|shutterstock|reuters|ap photo|afp|dpa|epa|ria novosti|тасс)\s*\)?$",
    _F,
)
SOURCE_LINK_RE = _line(SOURCE_LINK)
# "SOURCE: News agencies", "Quelle: dpa"
SOURCE_LINE_RE = re.compile(
    rf"^\W*(?:{_alt([w for ws in SOURCE_LINK.values() for w in ws])})\s*:\s*(?P<src>[^.!?]{{2,60}})$",
    _F,
)
# "Follow X on Twitter", "Email X at x@y.com", "Write to X at ...", "may be reached at ..."
CONTACT_LINE_RE = re.compile(
    r"(?:\bfollow\b.{0,60}\bon (?:twitter|facebook|instagram)|\bemail\b.{0,40}@|\bwrite to\b.{0,40}@|"
    r"may be reached at|reach the reporters?\b|\bcontact\b.{0,40}@|folgen sie .{0,40} auf (?:twitter|facebook)|"
    r"suivez .{0,40} sur (?:twitter|facebook)|síguenos en|подписывайтесь на .{0,40}(?:telegram|vk|твиттер))",
    _F,
)
CLICK_TO_TWEET_RE = re.compile(r"\s*click to tweet\s*$", _F)
UI_CONTROL_RE = re.compile(
    r"^\W*(?:update|refresh|load more|show more|more comments|show all comments|"
    r"aktualisieren|mehr anzeigen|weitere kommentare|обновить|показать ещ[её]|загрузить ещ[её]|"
    r"оновити|показати більше|actualiser|voir plus|afficher plus|actualizar|ver más|cargar más)\W*$",
    _F,
)
BYLINE_RE = re.compile(
    rf"^{BYLINE_WORDS}\s*:?\s+(?P<names>[^,|•·]{{3,80}}?)(?:\s*[,|•·–—-]\s*(?P<rest>[^,|]{{2,60}}))?\.?$",
    _F,
)
BULLET_RE = re.compile(r"^\s*[•·▪►▸◦*‣-]\s*")
COUNTER_RE = re.compile(
    r"^[•·\s]*[\d\s.,:/+-]*\d[\d\s.,:/+-]*(?:k|тыс\.?)?\s*"
    r"(?:views?|просмотр\w*|перегляд\w*|aufrufe|vues|vistas|comments?|комментари\w*|likes?|shares?)?\s*$",
    _F,
)
READING_TIME_RE = re.compile(
    r"^(?:\d+\s*(?:min(?:ute)?s?|мин\w*|хв\w*)\.?\s*(?:read|lesezeit|чтения|читання|de lectura|de lecture)|"
    r"(?:reading time|lesezeit|время чтения|час читання|temps de lecture|tiempo de lectura|tempo de leitura)\s*:?\s*\d+.*)$",
    _F,
)

_MONTHS = {
    # en
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    # de
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "dezember": 12,
    # fr
    "janvier": 1,
    "février": 2,
    "mars": 3,
    "avril": 4,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    # es
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    # pt, it
    "janeiro": 1,
    "fevereiro": 2,
    "março": 3,
    "maio": 5,
    "junho": 6,
    "julho": 7,
    "setembro": 9,
    "outubro": 10,
    "dezembro": 12,
    "gennaio": 1,
    "febbraio": 2,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "settembre": 9,
    "ottobre": 10,
    "dicembre": 12,
    # ru (genitive)
    "января": 1,
    "февраля": 2,
    "марта": 3,
    "апреля": 4,
    "мая": 5,
    "июня": 6,
    "июля": 7,
    "августа": 8,
    "сентября": 9,
    "октября": 10,
    "ноября": 11,
    "декабря": 12,
    # uk (genitive)
    "січня": 1,
    "лютого": 2,
    "березня": 3,
    "квітня": 4,
    "травня": 5,
    "червня": 6,
    "липня": 7,
    "серпня": 8,
    "вересня": 9,
    "жовтня": 10,
    "листопада": 11,
    "грудня": 12,
}
MONTHS = _MONTHS
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
DATE_ISO_RE = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)\b")
DATE_DMY_RE = re.compile(r"\b(?P<d>[0-3]?\d)[./](?P<m>[01]?\d)[./](?P<y>(?:19|20)\d\d)\b")
DATE_DAY_MONTH_RE = re.compile(
    rf"\b(?P<d>[0-3]?\d)\.?\s+(?:de\s+)?(?P<mon>{_MONTH_ALT})\.?,?\s+(?:de\s+|del\s+)?(?P<y>(?:19|20)\d\d)\b",
    _F,
)
DATE_MONTH_DAY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)\b", _F
)
# a line that is only a date/time stamp (possibly "Updated:", a weekday, a place)
TIMESTAMP_WORDS_RE = re.compile(
    rf"(?:{_MONTH_ALT}|updated|published|posted|modified|last|ago|hours?|minutes?|mins?|hrs?|days?|"
    r"a\.m\.|p\.m\.|vor|stunden?|minuten|назад|час\w*|минут\w*|hace|horas?|il y a|heures?|h|"
    r"aktualisiert|veröffentlicht|обновлено|опубликовано|"
    r"оновлено|опубліковано|mis à jour|publié le|publicado|actualizado|am|pm|um|uhr|at|on|à|a las|в|о|le|el|de|del|"
    r"segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira|lunedì|martedì|mercoledì|giovedì|venerdì|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun|"
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo|"
    r"gmt|utc|est|edt|pst|pdt|cet|cest|msk|bst|ist|г\.?|года|року|р\.?|\d+|[:/.,|()\-–—•·+])",
    _F,
)

UPPER = "A-ZÀ-ÖØ-ÞĀ-ſА-ЯЁІЇЄҐΑ-Ω"
LOWER = "a-zß-öø-ÿā-ſа-яёіїєґα-ω"
# "Copyright 2024 Reuters", "Copyright © X", "Copyright: X", "Copyright Reuters"; not
# "Copyright holders argued ..." (case-sensitive after the word: a name starts upper case)
COPYRIGHT_LINE_RE = re.compile(rf"^\W*(?i:copyright)\s*(?:$|[©:(\d]|(?i:by)\b|[{UPPER}])")
# "Chris Gr", "AM Hants", "Мстительная Матрешка", "Jean-Luc O'Neil", "anna_k"
NAME_TOKEN = rf"(?:[{UPPER}][{LOWER}{UPPER}'’.\-]*|[{UPPER}]{{2,3}}|[{UPPER}]\.)"
NAME_LINE_RE = re.compile(
    rf"^(?P<name>{NAME_TOKEN}(?:\s+{NAME_TOKEN}){{0,3}})(?:\s*\((?P<alt>[^)]{{2,60}})\))?$"
)
# "anna says:", "Hans sagt:", "Иван пишет:"; or "Name on 3 May 2021 at 5:14 pm"
NAME_SAYS_RE = re.compile(
    r"^(?P<name>[^\s:]{2,30}(?:\s+[^\s:]{1,30}){0,3})\s+(?:says|said|wrote|sagt|schrieb|пишет|написал\w*|пише|"
    r"написав|dit|a écrit|dice|escribió)\s*:?$",
    _F,
)
NAME_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "is",
        "are",
        "was",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "update",
        "updated",
        "share",
        "reply",
        "read",
        "more",
        "related",
        "news",
        "video",
        "photo",
        "photos",
        "home",
        "menu",
        "search",
        "login",
        "der",
        "die",
        "das",
        "und",
        "oder",
        "von",
        "mit",
        "für",
        "ist",
        "ein",
        "eine",
        "im",
        "am",
        "zum",
        "zur",
        "auf",
        "aus",
        "bei",
        "le",
        "la",
        "les",
        "des",
        "du",
        "un",
        "une",
        "et",
        "ou",
        "en",
        "au",
        "aux",
        "pour",
        "par",
        "sur",
        "dans",
        "est",
        "el",
        "los",
        "las",
        "del",
        "y",
        "o",
        "un",
        "una",
        "en",
        "con",
        "por",
        "para",
        "es",
        "и",
        "в",
        "во",
        "на",
        "с",
        "со",
        "по",
        "из",
        "от",
        "для",
        "не",
        "это",
        "как",
        "і",
        "та",
        "у",
        "з",
        "від",
        "для",
        "це",
        "як",
    ]
)

TERMINAL_PUNCT = '.!?…:;,"”»'
