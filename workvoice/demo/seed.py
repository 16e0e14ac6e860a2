"""Demo data, made through the real services so it looks like a programme in use (idempotent)."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pyotp
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.broadcasts import Broadcast
from bot.storage.committees import Committee, CommitteeInvite, Meeting
from bot.storage.db import transaction
from bot.storage.models import Factory, OutboxMessage, OutboxStatus, User
from bot.storage.reports import Case
from bot.storage.surveys import SurveyWave
from services.accounts import do_create_staff, get_staff_by_email, seal_totp
from services.broadcasts import deliveries
from services.broadcasts import messages as broadcasts
from services.broadcasts.topics import TopicInput, do_create_topic, do_subscribe, topic_by_key
from services.clock import utcnow
from services.committees.meetings import do_add_meeting, do_set_schedule
from services.committees.members import do_add_member, do_create_committee, do_create_invite
from services.committees.names import do_name_committee
from services.factories import FactoryInput, do_add_factory, get_factory_by_code
from services.onboarding import do_register
from services.reports.cases import do_transition
from services.reports.crypto import keyring
from services.reports.protocol import Category, Harm, State
from services.reports.submission import Intake, do_submit_report
from services.scope import Scope
from services.surveys import answering
from services.surveys.batches import flush_batches
from services.surveys.builder import do_install_templates, latest_published
from services.surveys.definition import QuestionType
from services.surveys.waves import (
    Audience,
    WaveInput,
    do_cancel_wave,
    do_create_wave,
    open_due_waves,
)
from workvoice.context import AppContext
from workvoice.demo.voices import seed_voices

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed at demo start; demo data only)

DEMO_FACTORIES = [
    FactoryInput(
        code="DEMO-DK", name="Dhaka Knitwear Ltd (demo)", country="BD", languages=("bn", "en")
    ),
    FactoryInput(
        code="DEMO-PP", name="Phnom Penh Garments (demo)", country="KH", languages=("km", "en")
    ),
    FactoryInput(
        code="DEMO-IR",
        name="Irbid Apparel (demo)",
        country="JO",
        languages=("ar", "bn", "hi", "si", "ne", "my", "en"),
    ),
    FactoryInput(
        code="DEMO-HC", name="Saigon Sewing Co (demo)", country="VN", languages=("vi", "en")
    ),
    FactoryInput(
        code="DEMO-PA", name="Port-au-Prince Textiles (demo)", country="HT", languages=("ht", "fr")
    ),
]

DEMO_STAFF = [
    ("admin", "admin@demo.workvoice.org", ()),
    ("country_manager", "manager@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("case_handler", "handler@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("analyst", "analyst@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("organiser", "organiser@demo.workvoice.org", ("BD", "JO")),
    ("translator", "translator@demo.workvoice.org", ()),
]
# The languages a demo account reviews translations for (the translator role, issue 19).
DEMO_REVIEWS = {"translator@demo.workvoice.org": ("bn",)}


async def _factories(session: AsyncSession) -> None:
    for data in DEMO_FACTORIES:
        if await get_factory_by_code(session, data.code) is None:
            await do_add_factory(session, data)


async def _staff(session: AsyncSession, secret_key: str) -> list[tuple[str, str, str]]:
    accounts = []
    for role, email, countries in DEMO_STAFF:
        staff = await get_staff_by_email(session, email)
        if staff is None:
            staff = await do_create_staff(
                session,
                email=email,
                role=role,
                countries=countries,
                password=DEMO_PASSWORD,
                name=role.replace("_", " ").title(),
                languages=DEMO_REVIEWS.get(email, ()),
            )
        if staff.totp_sealed is None:
            # Demo accounts come enrolled; the simulator page shows their current codes.
            staff.totp_sealed = seal_totp(secret_key, pyotp.random_base32())
            staff.totp_confirmed_at = utcnow()
        accounts.append((role, email, DEMO_PASSWORD))
    return accounts


# (worker telegram id, factory, category, harm, narrative, language, how far the handler got)
DEMO_CASES = [
    (
        7_900_001,
        "DEMO-DK",
        Category.HARASSMENT,
        Harm.SEXUAL_HARASSMENT,
        "লাইন সুপারভাইজার রাতের শিফটে মেয়েদের অশালীন কথা বলে।",
        "bn",
        State.NEW,
    ),
    (
        7_900_002,
        "DEMO-PP",
        Category.COMPENSATION,
        Harm.UNPAID_WAGES,
        "ប្រាក់ឈ្នួលខែមុនមិនទាន់បានបើកទេ។",
        "km",
        State.ACKNOWLEDGED,
    ),
    (
        7_900_003,
        "DEMO-IR",
        Category.FORCED_LABOUR,
        Harm.DOCUMENTS_KEPT,
        "The agent keeps our passports and says we cannot leave before the debt is paid.",
        "en",
        State.TRIAGED,
    ),
    (
        7_900_004,
        "DEMO-HC",
        Category.WORKING_TIME,
        Harm.OTHER,
        "Chúng tôi phải làm thêm giờ vào Chủ nhật mà không được báo trước.",
        "vi",
        State.NEW,
    ),
]


async def _cases(session: AsyncSession, ctx: AppContext) -> None:
    if await session.scalar(select(func.count()).select_from(Case)):
        return
    keys = keyring(ctx.settings)
    handler = await get_staff_by_email(session, "handler@demo.workvoice.org")
    assert handler is not None
    for telegram_id, code, category, harm, story, language, reached in DEMO_CASES:
        factory = await get_factory_by_code(session, code)
        assert factory is not None
        worker = await do_register(session, telegram_id, locale=language)
        worker.consent_at, worker.factory_id = utcnow(), factory.id
        intake = Intake(
            category=category,
            harm=harm,
            narrative=story,
            danger=False,
            affects_others=True,
            follow_up_in_chat=False,
            consent_to_share=True,
            consent_to_name=False,
            language=language,
            submission_token=f"demo-{telegram_id}",
        )
        case, _ = await do_submit_report(
            session,
            intake,
            keys=keys,
            secret_key=ctx.settings.effective_secret_key,
            reporter_user_id=worker.id,
            factory=factory,
            country_code=factory.country_code,
        )
        for step in (State.ACKNOWLEDGED, State.TRIAGED):
            if list(State).index(reached) >= list(State).index(step):
                await do_transition(session, case, step, actor=handler, keys=keys)


SYNTHETIC_WORKERS = 320  # enough for results to show, with some groups still too small
SYNTHETIC_IDS = 7_800_000


async def _surveys(session: AsyncSession, ctx: AppContext) -> None:
    """The templates, a closed wave of the wellbeing pulse last month and an open one now, both
    answered by synthetic workers through the real engine, so results, trends and suppression show."""
    templates = {s.key: s for s in await do_install_templates(session)}
    if await session.scalar(select(func.count()).select_from(SurveyWave)):
        return
    pulse = templates["wellbeing-pulse"]
    version = await latest_published(session, pulse)
    assert version is not None
    countries = sorted({f.country for f in DEMO_FACTORIES})
    manager = await get_staff_by_email(session, "manager@demo.workvoice.org")
    now = utcnow()
    rng = random.Random(2026)
    workers = []
    for i in range(SYNTHETIC_WORKERS):
        factory = await get_factory_by_code(session, DEMO_FACTORIES[i % len(DEMO_FACTORIES)].code)
        assert factory is not None
        worker = await do_register(session, SYNTHETIC_IDS + i, locale=factory.languages[i % 2])
        worker.consent_at, worker.factory_id = now, factory.id
        # Most give their gender and age group; a few men and older workers make small groups.
        worker.gender = rng.choices(["woman", "man", None], [72, 20, 8])[0]
        worker.age_band = rng.choices(
            ["18-24", "25-34", "35-44", "45plus", None], [30, 35, 20, 5, 10]
        )[0]
        workers.append(worker)
    await session.flush()
    for name, share, close in (
        ("Wellbeing pulse (last month)", 0.6, True),
        ("Wellbeing pulse", 0.8, False),
    ):
        wave = await do_create_wave(
            session,
            WaveInput(
                version_id=version.id,
                name=name,
                audience=Audience(countries),
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(days=14),
            ),
            scope=Scope.everywhere(),
            actor=manager,
        )
        await open_due_waves(session, worker="seed", now=now)
        for worker in workers:
            if rng.random() < share:
                await _answer(session, ctx, worker, wave.id, rng, mood_shift=0 if close else 1)
        if close:
            await do_cancel_wave(session, wave, actor=manager)
    # Seeded workers have no phone to deliver to: invitations are only for the simulator's.
    seeded = select(User.id).where(User.telegram_id.between(SYNTHETIC_IDS, 7_999_999))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.user_id.in_(seeded)))


async def _answer(
    session: AsyncSession,
    ctx: AppContext,
    worker: User,
    wave_id: int,
    rng: random.Random,
    *,
    mood_shift: int,
) -> None:
    secret = ctx.settings.effective_secret_key
    step = await answering.do_begin(
        session, worker, wave_id, secret_key=secret, store=ctx.survey_store
    )
    while not step.done:
        question = step.question
        assert question is not None
        if question.type == QuestionType.MULTI:
            for value in rng.sample(question.values(), 2):
                step = await answering.do_toggle(
                    session,
                    worker,
                    wave_id,
                    step.index,
                    value,
                    secret_key=secret,
                    store=ctx.survey_store,
                )
            step = await answering.do_finish_choice(
                session, worker, wave_id, step.index, secret_key=secret, store=ctx.survey_store
            )
            continue
        if question.type == QuestionType.SCALE:
            value = str(min(5, rng.choice([2, 3, 3, 4, 4, 5]) + mood_shift))
        else:
            value = rng.choice(question.values())
        step = await answering.do_answer(
            session, worker, wave_id, step.index, value, secret_key=secret, store=ctx.survey_store
        )


# (display name, side, role, gender, language) of the seeded committee's members
DEMO_COMMITTEE = [
    ("Rahima Khatun", "worker", "chair", "woman", "bn"),
    ("Shapla Begum", "worker", "secretary", "woman", "bn"),
    ("Abdul Karim", "worker", "member", "man", "bn"),
    ("Nasrin Akter", "management", "member", "woman", "bn"),
    ("Tanvir Hasan", "management", "member", "man", "en"),
    ("Mahmud Alam", "management", "member", "man", "bn"),
]


# The committee's name and usual place in every language the bot speaks: a worker of any of the
# demo factories may join it with its code, and reads both in her language (review B13).
DEMO_COMMITTEE_NAMES = {
    "en": ("Participation Committee", "Canteen, 2nd floor"),
    "bn": ("অংশগ্রহণকারী কমিটি", "ক্যান্টিন, ২য় তলা"),
    "km": ("គណៈកម្មាធិការចូលរួម", "អាហារដ្ឋាន ជាន់ទី2"),
    "am": ("የተሳትፎ ኮሚቴ", "ካፍቴሪያ፣ 2ኛ ፎቅ"),
    "ar": ("لجنة المشاركة", "المقصف، الطابق الثاني"),
    "my": ("ပူးပေါင်းပါဝင်မှု ကော်မတီ", "စားသောက်ဆောင်၊ ဒုတိယထပ်"),
    "ne": ("सहभागिता समिति", "क्यान्टिन, दोस्रो तल्ला"),
    "hi": ("भागीदारी समिति", "कैंटीन, दूसरी मंज़िल"),
    "si": ("සහභාගීත්ව කමිටුව", "ආපනශාලාව, දෙවන මහල"),
    "ta": ("பங்கேற்புக் குழு", "உணவகம், 2வது மாடி"),
    "ur": ("شراکتی کمیٹی", "کینٹین، دوسری منزل"),
    "vi": ("Ủy ban Tham gia", "Nhà ăn, tầng 2"),
    "id": ("Komite Partisipasi", "Kantin, lantai 2"),
    "ht": ("Komite Patisipasyon", "Kantin, 2yèm etaj"),
    "fr": ("Comité de participation", "Cantine, 2e étage"),
    "es": ("Comité de Participación", "Comedor, 2.º piso"),
}


async def _committee(session: AsyncSession) -> None:
    """A Participation Committee at the Dhaka demo factory: monthly on the first Tuesday, a meeting
    tomorrow at 14:00 there, and a worker-side invitation code the simulator page shows."""
    factory = await get_factory_by_code(session, "DEMO-DK")
    assert factory is not None
    committee = await session.scalar(select(Committee).where(Committee.factory_id == factory.id))
    now = utcnow()
    if committee is None:
        manager = await get_staff_by_email(session, "manager@demo.workvoice.org")
        committee = await do_create_committee(
            session, factory, kind="pc", name="Participation Committee", actor=manager
        )
        for name, side, role, gender, language in DEMO_COMMITTEE:
            await do_add_member(
                session,
                committee,
                display_name=name,
                side=side,
                role=role,
                gender=gender,
                language=language,
                actor=manager,
            )
        local_now = now.astimezone(ZoneInfo(factory.timezone))
        await do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1TU",
            local_start=f"{local_now:%Y-%m}-01T14:00",
            location="Canteen, 2nd floor",
            actor=manager,
        )
    if set(DEMO_COMMITTEE_NAMES) - set(committee.names or {}):  # also a demo seeded before 0019
        await do_name_committee(
            session,
            committee,
            default_locale="en",
            names={code: name for code, (name, _place) in DEMO_COMMITTEE_NAMES.items()},
            places={code: place for code, (_name, place) in DEMO_COMMITTEE_NAMES.items()},
            actor=None,
        )
    soon = await session.scalar(
        select(Meeting.id).where(
            Meeting.committee_id == committee.id,
            Meeting.status == "planned",
            Meeting.starts_at.between(now, now + timedelta(days=2)),
        )
    )
    if soon is None:  # whenever the demo starts, there is a meeting to be reminded of tomorrow
        tomorrow = now.astimezone(ZoneInfo(factory.timezone)).date() + timedelta(days=1)
        await do_add_meeting(
            session,
            committee,
            local_start=f"{tomorrow:%Y-%m-%d}T14:00",
            location="Canteen, 2nd floor",
            actor=None,
        )
    if await demo_committee_code(session) is None:  # codes expire: a fresh one at each start
        await do_create_invite(session, committee, side="worker", actor=None)


async def demo_committee_code(session: AsyncSession) -> str | None:
    """The seeded committee's current worker invitation code, for the simulator's tour."""
    return await session.scalar(
        select(CommitteeInvite.code)
        .join(Committee, Committee.id == CommitteeInvite.committee_id)
        .join(Factory, Factory.id == Committee.factory_id)
        .where(
            Factory.code == "DEMO-DK",
            CommitteeInvite.side == "worker",
            CommitteeInvite.expires_at > utcnow() + timedelta(days=1),
        )
        .order_by(CommitteeInvite.expires_at.desc())
        .limit(1)
    )


# Two topics organisers run: a union's news in Dhaka, and rights news for migrants in Jordan.
DEMO_TOPICS = [
    TopicInput(
        "dhaka-union",
        "BD",
        "en",
        {"en": "Union news", "bn": "ইউনিয়নের খবর"},
    ),
    TopicInput(
        "migrant-rights",
        "JO",
        "en",
        {
            "en": "Rights of migrant workers",
            "ar": "حقوق العمال المهاجرين",
            "bn": "প্রবাসী শ্রমিকদের অধিকার",
            "hi": "प्रवासी मज़दूरों के अधिकार",
            "ne": "आप्रवासी कामदारका अधिकार",
            "my": "ရွှေ့ပြောင်းအလုပ်သမားအခွင့်အရေး",
            "si": "සංක්‍රමණික සේවකයන්ගේ අයිතිවාසිකම්",
        },
    ),
]
# Demo texts (machine-drafted like the catalogs): a sent message and a draft to try sending.
OVERTIME = {
    "en": "Overtime is paid at 125% of your hourly wage, 150% on rest days and holidays. Keep a "
    "note of your hours. Questions? The union office near Gate 2 is open Thursday 17:00–19:00.",
    "ar": "يُدفع العمل الإضافي بنسبة 125% من أجر الساعة، و150% في أيام الراحة والعطل. احتفظ "
    "بسجل لساعاتك. لديك أسئلة؟ مكتب النقابة قرب البوابة 2 مفتوح يوم الخميس 17:00–19:00.",
    "bn": "ওভারটাইমের মজুরি ঘণ্টাপ্রতি মজুরির ১২৫%, ছুটির দিনে ১৫০%। আপনার কাজের ঘণ্টা লিখে "
    "রাখুন। প্রশ্ন আছে? গেট ২-এর কাছে ইউনিয়ন অফিস বৃহস্পতিবার ১৭:০০–১৯:০০ খোলা।",
    "hi": "ओवरटाइम का भुगतान घंटे की मज़दूरी का 125% होता है, छुट्टी के दिन 150%। अपने घंटे लिखकर "
    "रखें। सवाल हैं? गेट 2 के पास यूनियन दफ़्तर गुरुवार 17:00–19:00 खुला है।",
    "ne": "ओभरटाइमको ज्याला घण्टाको ज्यालाको १२५%, बिदाको दिन १५०% हुन्छ। आफ्नो कामको घण्टा "
    "लेखेर राख्नुहोस्। प्रश्न छ? गेट २ नजिकको युनियन कार्यालय बिहीबार १७:००–१९:०० खुला छ।",
    "my": "အချိန်ပိုလုပ်ခကို တစ်နာရီလုပ်ခ၏ ၁၂၅% ၊ နားရက်နှင့် အားလပ်ရက်တွင် ၁၅၀% ပေးရသည်။ "
    "သင့်အလုပ်ချိန်ကို မှတ်ထားပါ။ မေးစရာရှိပါက ဂိတ် ၂ အနီးရှိ သမဂ္ဂရုံးသို့ ကြာသပတေးနေ့ "
    "၁၇:၀၀–၁၉:၀၀ လာပါ။",
    "si": "අතිකාල වැඩ සඳහා පැයක වැටුපෙන් 125% ක්, නිවාඩු දිනවල 150% ක් ගෙවිය යුතුය. ඔබේ වැඩ "
    "පැය සටහන් කර තබා ගන්න. ප්‍රශ්න තිබේද? ගේට්ටුව 2 අසල වෘත්තීය සමිති කාර්යාලය බ්‍රහස්පතින්දා "
    "17:00–19:00 විවෘතයි.",
}
GENERAL_MEETING = {
    "en": "General meeting of the factory union on Thursday after the shift, 17:30, in the "
    "canteen. Everyone is welcome. Tea will be served.",
    "bn": "বৃহস্পতিবার শিফটের পরে বিকেল ৫:৩০-এ ক্যান্টিনে কারখানা ইউনিয়নের সাধারণ সভা। সবাই "
    "আমন্ত্রিত। চা পরিবেশন করা হবে।",
}


async def _broadcasts(ctx: AppContext) -> None:
    """The two topics, followed by some synthetic workers, a message to migrants in Jordan already
    delivered (its report shows), and a draft for Dhaka that the tour sends to a simulated phone."""
    async with transaction(ctx.sessions) as session:
        if await topic_by_key(session, "dhaka-union") is not None:
            return
        organiser = await get_staff_by_email(session, "organiser@demo.workvoice.org")
        made = [
            await do_create_topic(session, data, scope=Scope.everywhere(), actor=organiser)
            for data in DEMO_TOPICS
        ]
        rng = random.Random(8)
        followers = (
            await session.scalars(
                select(User)
                .join(Factory, Factory.id == User.factory_id)
                .where(
                    User.telegram_id.between(SYNTHETIC_IDS, 7_999_999),
                    Factory.code.in_(("DEMO-DK", "DEMO-IR")),
                )
            )
        ).all()
        for worker in followers:
            if rng.random() < 0.7:
                topic = made[0] if worker.factory.code == "DEMO-DK" else made[1]  # type: ignore[union-attr]
                await do_subscribe(session, worker, topic.id)
        sent = await broadcasts.do_create(
            session,
            broadcasts.BroadcastInput(
                topic_id=made[1].id,
                title="Overtime pay: know your rights",
                countries=["JO"],
                texts=OVERTIME,
                default_locale="en",
                fallback=True,
            ),
            scope=Scope.everywhere(),
            actor=organiser,
        )
        await broadcasts.do_schedule(session, sent, scope=Scope.everywhere(), actor=organiser)
        await broadcasts.do_create(
            session,
            broadcasts.BroadcastInput(
                topic_id=made[0].id,
                title="Union general meeting on Thursday",
                countries=["BD"],
                texts=GENERAL_MEETING,
                default_locale="en",
            ),
            scope=Scope.everywhere(),
            actor=organiser,
        )
        sent_id = sent.id
    # Queued through the real fan-out; synthetic workers have no phone, so their deliveries are
    # counted as the delivery loop would and their outbox rows removed.
    await broadcasts.fan_out_due(ctx.sessions, worker="seed")
    async with transaction(ctx.sessions) as session:
        rows = (
            await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.dedupe_key.like(f"broadcast:{sent_id}:user:%")
                )
            )
        ).all()
        for _row in rows:
            await deliveries.record_outcome(session, sent_id, OutboxStatus.SENT)
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(rows)))
        assert await session.get(Broadcast, sent_id) is not None


async def seed_demo(ctx: AppContext) -> list[tuple[str, str, str]]:
    """Seed everything; returns the demo accounts (role, email, password) to print."""
    async with transaction(ctx.sessions) as session:
        await _factories(session)
        accounts = await _staff(session, ctx.settings.effective_secret_key)
    async with transaction(ctx.sessions) as session:
        await _cases(session, ctx)
    async with transaction(ctx.sessions) as session:
        await _surveys(session, ctx)
    # Finished answers wait for the batch job; write them now so results and trends show at once.
    await flush_batches(
        ctx.sessions,
        ctx.survey_store,
        secret_key=ctx.settings.effective_secret_key,
        k=ctx.settings.suppression_k,
        close_grace=timedelta(0),
    )
    async with transaction(ctx.sessions) as session:
        await _committee(session)
    await _broadcasts(ctx)
    await seed_voices(ctx)  # after the surveys: a question of the pulse is read aloud
    return accounts
