"""Synthetic outlets for load tests: deterministic articles composed from a small vocabulary."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from workers.demo.pages import (
    DemoArticle,
    DemoComment,
    FeedSpec,
    Site,
    render_aggregator,
    render_closed_blog,
    render_german_site,
    render_repost_blog,
    render_wordpress_comments,
)

SYNTH_EPOCH = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)

COUNTRIES = [
    ("Poland", "Warsaw", "Polish"),
    ("Finland", "Helsinki", "Finnish"),
    ("Estonia", "Tallinn", "Estonian"),
    ("Romania", "Bucharest", "Romanian"),
    ("Norway", "Oslo", "Norwegian"),
    ("Turkey", "Ankara", "Turkish"),
    ("Japan", "Tokyo", "Japanese"),
    ("Germany", "Berlin", "German"),
    ("France", "Paris", "French"),
    ("Italy", "Rome", "Italian"),
    ("Hungary", "Budapest", "Hungarian"),
    ("Georgia", "Tbilisi", "Georgian"),
    ("Moldova", "Chisinau", "Moldovan"),
    ("Sweden", "Stockholm", "Swedish"),
    ("Lithuania", "Vilnius", "Lithuanian"),
    ("Greece", "Athens", "Greek"),
    ("Canada", "Ottawa", "Canadian"),
    ("Australia", "Canberra", "Australian"),
    ("South Korea", "Seoul", "South Korean"),
    ("India", "New Delhi", "Indian"),
]
TOPICS = [
    "air defence",
    "artillery ammunition",
    "naval patrols",
    "border fortifications",
    "cyber security",
    "arms control",
    "military aid",
    "drone production",
    "conscription",
    "energy security",
    "satellite surveillance",
    "submarine procurement",
    "missile defence",
    "peace talks",
    "sanctions enforcement",
    "military exercises",
    "defence budgets",
    "fighter jet deliveries",
    "logistics hubs",
    "undersea cables",
]
SYSTEMS = [
    "Patriot batteries",
    "IRIS-T launchers",
    "F-35 jets",
    "Leopard tanks",
    "CV90 vehicles",
    "HIMARS launchers",
    "frigates",
    "patrol aircraft",
    "radar stations",
    "reconnaissance drones",
    "Iskander launchers",
    "Sarmat missiles",
    "minehunters",
    "coastal missile batteries",
]
ACTORS = [
    "The defence ministry",
    "Officials in {capital}",
    "NATO commanders",
    "The {adj} government",
    "Opposition lawmakers",
    "Military analysts",
    "Diplomats in Brussels",
    "The chief of the general staff",
    "Industry executives",
    "A parliamentary committee",
    "Intelligence services",
    "The prime minister of {country}",
]
VERBS = [
    "announced plans to expand",
    "raised concerns about",
    "called for faster spending on",
    "signed an agreement on",
    "criticised delays in",
    "published a review of",
    "promised more money for",
    "warned of gaps in",
    "approved a programme for",
    "questioned the cost of",
    "held talks on",
    "ordered an inquiry into",
]
WHEN = [
    "on Monday",
    "on Tuesday",
    "this week",
    "late on Wednesday",
    "after a cabinet meeting",
    "at a press conference",
    "during a visit to the border",
    "in an interview with state television",
    "ahead of a NATO meeting",
    "in a written statement",
]
FOLLOWUPS = [
    "The decision follows months of debate about {topic} in {capital}.",
    "According to the ministry, the first {systems} could be delivered within {n} months.",
    "Critics said the plan came too late and would cost at least {n} billion euros.",
    "{adj2} officials described the move as a response to recent incidents near {place}.",
    "Analysts noted that {topic} had been neglected for more than a decade.",
    "The programme is expected to create around {n}00 jobs in the region.",
    "A spokesman declined to give details, citing security concerns.",
    "Neighbouring states are watching the developments around {place} closely.",
    "Similar projects in {country2} have faced long delays and rising costs.",
    "The government said the {systems} would be integrated with allied networks.",
    "Polls suggest that a majority of voters support higher spending on {topic}.",
    "Russia's embassy called the step provocative and promised an appropriate response.",
    "Officials stressed that the measures were defensive and did not target any country.",
    "The budget for {topic} has risen by {n} percent since 2022.",
    "Training of the first crews is scheduled to begin in the autumn.",
    "Exercises near {place} last month exposed shortcomings in communications.",
    "The opposition demanded a debate in parliament before any contracts are signed.",
    "Several allies have offered to share experience in {topic}.",
]
PLACES = [
    "Kaliningrad",
    "the Suwałki corridor",
    "the Gulf of Finland",
    "the Black Sea coast",
    "the Arctic",
    "the Danube delta",
    "the Baltic Sea",
    "the eastern border",
    "the Bosphorus",
    "the North Sea",
]
HEADLINES = [
    "{country} {hverb} {topic} plan",
    "{adj} {topic}: {actor_short} {hverb2}",
    "Why {country} is betting on {systems}",
    "{capital} and {capital2} sign deal on {topic}",
    "{topic_cap} row deepens in {capital}",
    "{country} orders {n} more {systems}",
    "Inside {country}'s push for {topic}",
]
HVERBS = ["unveils", "delays", "expands", "reviews", "defends", "rethinks"]
HVERBS2 = ["minister faces questions", "costs rise", "the first units arrive", "talks stall"]
COMMENTERS = [
    "Old Sapper",
    "Baltic Observer",
    "Jonny B",
    "Veritas",
    "Kasia W.",
    "Hans D.",
    "Сибиряк",
    "Карельский медведь",
    "Lucía M.",
    "Pedro Á.",
    None,
    None,
]
COMMENT_LINES = {
    "en": [
        "This has been promised for years and nothing happened.",
        "Finally somebody says it openly.",
        "Follow the money and you will understand the decision.",
        "The article leaves out the most important part, the cost.",
        "Good news for the region, if it actually happens.",
        "Who is going to pay for all of this?",
    ],
    "ru": [
        "Опять обещания, а результатов нет.",
        "Интересно, кто за это заплатит.",
        "Статья однобокая, но факты верные.",
    ],
    "es": [
        "Otra vez las mismas promesas de siempre.",
        "Esto solo aumenta la tensión en Europa.",
        "Buena noticia, si realmente se cumple.",
    ],
}
# Reporting sentences are composed from these slots, so two articles share the phrasing of
# news prose, not whole sentences: distinct stories must not look like near copies to dedup.
REPORT_TEMPLATES = [
    "{person}, {role}, told reporters that the {adj_x} {noun} near {town} {vpast} {timex}.",
    '"We {qverb} {qobj}," said {person}, {role}, adding that {clause}.',
    "{count} {nouns} were {participle} near {town} {timex}, according to {source}.",
    "In {town}, {clause}, while {clause2}.",
    "{person} of the {org} argued that {clause}.",
    "The {org} estimated the {noun} at {money}, {cmp} than {person_short} had forecast.",
    "Records seen by {outlet_ref} show that {clause} as early as {month}.",
    "{source_cap} said {clause}; {person_short} disputed that account {timex}.",
    "By {month}, {count} {nouns} {vplural} {town}, up from {count2} a year earlier.",
    "Residents of {town} said {clause}.",
]
ROLES = [
    "a senior adviser to the ministry",
    "the regional governor",
    "a retired general",
    "head of the procurement agency",
    "a researcher at the institute for security studies",
    "the committee's deputy chair",
    "a spokeswoman for the coast guard",
    "chief executive of a shipyard",
    "an economist at the central bank",
    "the mayor",
    "a union representative",
    "the navy's chief engineer",
]
ORGS = [
    "audit office",
    "defence committee",
    "procurement agency",
    "coast guard",
    "chamber of commerce",
    "border agency",
    "finance ministry",
    "port authority",
    "energy regulator",
    "veterans' association",
    "institute for strategic studies",
    "railway operator",
]
TOWNS = [
    "Narva",
    "Klaipėda",
    "Gdańsk",
    "Kotka",
    "Tartu",
    "Liepāja",
    "Rostock",
    "Turku",
    "Daugavpils",
    "Białystok",
    "Constanța",
    "Varna",
    "Tromsø",
    "Kirkenes",
    "Pärnu",
    "Oulu",
    "Elbląg",
    "Ventspils",
    "Mikkeli",
    "Šiauliai",
]
NOUNS = [
    ("depot", "depots"),
    ("radar station", "radar stations"),
    ("supply contract", "contracts"),
    ("training ground", "training grounds"),
    ("pipeline", "pipelines"),
    ("bridge", "bridges"),
    ("fuel reserve", "fuel reserves"),
    ("patrol vessel", "patrol vessels"),
    ("air base", "air bases"),
    ("cable", "cables"),
    ("warehouse", "warehouses"),
    ("checkpoint", "checkpoints"),
    ("shelter", "shelters"),
    ("rail link", "rail links"),
]
ADJ_X = [
    "new",
    "long-delayed",
    "disputed",
    "ageing",
    "half-finished",
    "costly",
    "temporary",
    "refurbished",
    "underground",
    "experimental",
    "mobile",
    "joint",
]
VPAST = [
    "was closed",
    "had been damaged",
    "would be expanded",
    "was inspected",
    "failed a safety test",
    "opened ahead of schedule",
    "was sold to a private investor",
    "ran out of spare parts",
    "was put on standby",
    "was moved further inland",
]
VPLURAL = ["operated near", "were registered in", "were stationed around", "served"]
PARTICIPLE = ["inspected", "delivered", "decommissioned", "repaired", "ordered", "rebuilt"]
QVERBS = [
    "cannot wait for",
    "have asked twice for",
    "will not accept",
    "need clarity on",
    "are still waiting for",
    "have already paid for",
]
QOBJ = [
    "another study",
    "the second tranche",
    "a written guarantee",
    "the missing parts",
    "a proper timetable",
    "an honest estimate",
    "more inspectors",
    "the final report",
]
CLAUSES = [
    "the tender had been rewritten {k} times",
    "local suppliers were shut out of the contract",
    "the first shipment arrived with missing documentation",
    "inspectors found cracks in {k} of the {count2} units",
    "overtime costs had doubled since spring",
    "the site had no backup power for {k} days",
    "the contractor was owed {money}",
    "fishermen reported unusual activity offshore",
    "the schedule slipped after a dispute over land",
    "two officials resigned over the handling of the case",
    "the harbour was closed to civilian traffic for {k} hours",
    "insurance premiums in the area had risen sharply",
    "the plan relied on parts that are no longer made",
    "volunteers had filled sandbags through the night",
]
SOURCES = [
    "two officials familiar with the matter",
    "a leaked memo",
    "court filings",
    "the local council",
    "satellite images",
    "freight records",
    "a union statement",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
CMPS = ["far more", "slightly more", "less", "twice as much"]
OUTLET_REFS = ["this newspaper", "local broadcasters", "an investigative website", "reporters"]

NAME_FIRST = [
    "Anna",
    "Marek",
    "Laura",
    "Tomas",
    "Sofia",
    "Erik",
    "Ines",
    "Pavel",
    "Nora",
    "Luca",
    "Jonas",
    "Maija",
    "Kristjan",
    "Agnieszka",
    "Oskar",
    "Elena",
    "Dmitri",
    "Ruta",
    "Henrik",
    "Clara",
]
NAME_LAST = [
    "Berg",
    "Novak",
    "Kowalski",
    "Lind",
    "Moreau",
    "Rossi",
    "Horvat",
    "Keller",
    "Dahl",
    "Tamm",
    "Ozols",
    "Petrauskas",
    "Nieminen",
    "Wiśniewska",
    "Hansen",
    "Popescu",
    "Ivanova",
    "Sepp",
    "Lehmann",
    "Virtanen",
]
OUTLET_WORDS = ["Herald", "Courier", "Observer", "Review", "Dispatch", "Monitor", "Ledger", "Post"]
OUTLET_ADJ = ["Northern", "Eastern", "Baltic", "Continental", "Atlantic", "Danube", "Coastal"]

STYLES = [
    render_repost_blog,
    render_german_site,
    render_wordpress_comments,
    render_aggregator,
    render_closed_blog,
]


def synth_outlet_id(index: int) -> str:
    return f"gen-{index:03d}"


def parse_synth_id(outlet_id: str) -> int | None:
    m = re.fullmatch(r"gen-(\d{3,})", outlet_id)
    return int(m.group(1)) if m else None


def _synth_path(sid: str) -> Callable[[DemoArticle], str]:
    def path_for(article: DemoArticle) -> str:
        return f"/{sid}/articles/{article.slug}.html"

    return path_for


@lru_cache(maxsize=4096)
def synth_site(seed: int, index: int) -> Site:
    """The synthetic outlet number `index`: its name, feed format and page style."""
    rng = random.Random(f"site:{seed}:{index}")
    sid = synth_outlet_id(index)
    name = f"The {rng.choice(OUTLET_ADJ)} {rng.choice(OUTLET_WORDS)} {index}"
    kind = "rss" if index % 2 == 0 else "atom"
    feed = FeedSpec(f"/{sid}/feed.{'xml' if kind == 'rss' else 'atom'}", kind, name)
    return Site(
        id=sid,
        name=name,
        language="en",
        country=rng.choice(["GB", "US", "DE", "PL", "FI", "EE", "FR", "IT", "SE", "NO"]),
        feeds=(feed,),
        path_for=_synth_path(sid),
        render=STYLES[index % len(STYLES)],
    )


def _fill(template: str, rng: random.Random, ctx: dict[str, str]) -> str:
    values = dict(ctx)
    values.setdefault("n", str(rng.randint(2, 48)))
    return template.format(**values)


def _report_sentence(rng: random.Random) -> str:
    """One reporting sentence with its own people, places, figures and claims."""
    noun, nouns = rng.choice(NOUNS)
    person = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_LAST)}"
    values = {
        "person": person,
        "person_short": person.split()[1],
        "role": rng.choice(ROLES),
        "org": rng.choice(ORGS),
        "town": rng.choice(TOWNS),
        "noun": noun,
        "nouns": nouns,
        "adj_x": rng.choice(ADJ_X),
        "vpast": rng.choice(VPAST),
        "vplural": rng.choice(VPLURAL),
        "participle": rng.choice(PARTICIPLE),
        "timex": rng.choice(WHEN),
        "qverb": rng.choice(QVERBS),
        "qobj": rng.choice(QOBJ),
        "source": rng.choice(SOURCES),
        "month": rng.choice(MONTHS),
        "cmp": rng.choice(CMPS),
        "outlet_ref": rng.choice(OUTLET_REFS),
        "count": str(rng.randint(3, 90)),
        "count2": str(rng.randint(2, 60)),
        "money": f"{rng.randint(2, 950)} million euros",
        "k": str(rng.randint(2, 9)),
    }
    values["source_cap"] = values["source"][:1].upper() + values["source"][1:]
    values["clause"] = rng.choice(CLAUSES).format(**values)
    values["clause2"] = rng.choice(CLAUSES).format(**values)
    return rng.choice(REPORT_TEMPLATES).format(**values)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


@lru_cache(maxsize=8192)
def synth_article(seed: int, index: int, number: int) -> DemoArticle:
    """Article `number` (0 = newest) of synthetic outlet `index`; same inputs, same article."""
    rng = random.Random(f"art:{seed}:{index}:{number}")
    country, capital, adj = rng.choice(COUNTRIES)
    country2, capital2, adj2 = rng.choice(COUNTRIES)
    topic = rng.choice(TOPICS)
    ctx = {
        "country": country,
        "capital": capital,
        "adj": adj,
        "country2": country2,
        "capital2": capital2,
        "adj2": adj2,
        "topic": topic,
        "topic_cap": topic[:1].upper() + topic[1:],
        "systems": rng.choice(SYSTEMS),
        "place": rng.choice(PLACES),
        "hverb": rng.choice(HVERBS),
        "hverb2": rng.choice(HVERBS2),
        "actor_short": rng.choice(["ministry", "army", "navy", "coalition"]),
    }
    title = _fill(rng.choice(HEADLINES), rng, ctx)
    title = title[:1].upper() + title[1:]
    paragraphs = []
    for p in range(rng.randint(4, 7)):
        sentences = []
        if p == 0 or rng.random() < 0.5:
            actor = _fill(rng.choice(ACTORS), rng, ctx)
            sentences.append(
                f"{actor} {rng.choice(VERBS)} {topic} {rng.choice(WHEN)}, "
                f"according to {rng.choice(['officials', 'a statement', 'local media', 'sources'])}."
            )
        if rng.random() < 0.35:  # stock background lines, as wire copy repeats them
            ctx["systems"] = rng.choice(SYSTEMS)
            ctx["place"] = rng.choice(PLACES)
            sentences.append(_fill(rng.choice(FOLLOWUPS), rng, ctx))
        for _ in range(rng.randint(2, 4)):
            sentences.append(_report_sentence(rng))
        paragraphs.append(" ".join(dict.fromkeys(sentences)))
    if rng.random() < 0.3:
        paragraphs.insert(rng.randint(2, len(paragraphs) - 1), f"## What comes next for {topic}")
    author = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_LAST)}"
    comments = []
    for _ in range(rng.choice([0, 0, 2, 3, 5, 8])):
        lang = rng.choice(["en", "en", "en", "ru", "es"])
        text = " ".join(rng.sample(COMMENT_LINES[lang], k=min(2, len(COMMENT_LINES[lang]))))
        comments.append(DemoComment(rng.choice(COMMENTERS), text))
    style = index % len(STYLES)
    published = SYNTH_EPOCH - timedelta(hours=6 * number + rng.randint(0, 5), minutes=index % 60)
    return DemoArticle(
        slug=f"{number:02d}-{_slugify(title)}",
        title=title,
        published=published,
        paragraphs=paragraphs,
        authors=[author],
        category="analysis" if rng.random() < 0.4 else "news",
        comments=comments,
        commentary=[f"Worth reading on {topic}; I am not convinced by the conclusion."]
        if style == 0
        else [],
        original_outlet=f"The {rng.choice(OUTLET_ADJ)} {rng.choice(OUTLET_WORDS)}"
        if style in (0, 3)
        else None,
        teasers=[{"after": 2, "headline": f"More on {topic} in {country2}"}] if style == 1 else [],
        image_credit="© Archive photo" if style == 3 else None,
        author_line=author if style == 3 else None,
        views=rng.randint(10, 9000),
    )
