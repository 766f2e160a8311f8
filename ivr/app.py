"""The composition root: builds every part of the server and owns their start and stop order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ivr import keys
from ivr.agents import phone
from ivr.agents.service import AgentService
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.originate import Originator
from ivr.ami.queue_state import QueueState
from ivr.asterisk.layout import AsteriskLayout
from ivr.background import Background
from ivr.callbacks import routes as callback_routes
from ivr.callbacks.dialer import CallbackDialer
from ivr.callbacks.store import CallbackStore
from ivr.calls import classic_spool
from ivr.calls.live_channels import ChannelCheck
from ivr.calls.queue_log import QueueLogImporter
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import CallTracker, Row
from ivr.campaigns import routes as campaigns
from ivr.campaigns.progress import CampaignFollower, CampaignProgress
from ivr.campaigns.store import CampaignStore
from ivr.db.engine import DATABASE_ERRORS, create_engine, ensure_current
from ivr.desk import routes as desk
from ivr.desk.hub import DeskHub
from ivr.dialplan_variables import CITIZENS_CONTEXT
from ivr.fastagi import FastAgiServer, Router
from ivr.handoff import routes as handoff
from ivr.intake import handlers as intake
from ivr.intake import waiting
from ivr.intake.context import CallContext, CallContextFactory, Services
from ivr.knowledge import routes as knowledge
from ivr.knowledge.store import KnowledgeStore
from ivr.metrics import jobs as job_metrics
from ivr.metrics import live as live_metrics
from ivr.metrics import routes as metrics_routes
from ivr.metrics.collector import Metrics
from ivr.metrics.log_errors import counting_errors
from ivr.open311 import routes as open311
from ivr.private_data import make_private, private_umask
from ivr.progress import handlers as progress
from ivr.rating import handlers as rating
from ivr.reports import routes as reports
from ivr.reports.builder import ReportMaker
from ivr.reports.runs import ReportRuns, ReportScheduler
from ivr.reports.terms import TermIndexer
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms import routes as sms_routes
from ivr.sms.inbox import SmsInbox
from ivr.sms.kannel import KannelError, KannelLayout, KannelProcess
from ivr.sms.sender import SmsSender
from ivr.sms.store import SmsStore
from ivr.staffing import routes as staffing
from ivr.surveys import handlers as survey_calls
from ivr.surveys import routes as survey_routes
from ivr.surveys.dialer import SurveyDialer
from ivr.surveys.outcomes import OrderVisits
from ivr.surveys.store import SurveyStore
from ivr.voicemail import handlers as voicemail
from ivr.voicemail import routes as voicemail_routes
from ivr.voicemail.ingest import VoicemailIngester
from ivr.voicemail.store import VoicemailStore, policy_of
from ivr.voicemail.worker import TranscriptionWorker
from ivr.wallboard import routes as wallboard
from ivr.wallboard.figures import DayReader
from ivr.wallboard.live import WallboardHub
from ivr.web import headers, health, passwords, shared
from ivr.web.auth import auth_middleware
from ivr.web.input import input_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.web.proxies import forwarded_client
from ivr.workorders import routes as workorders
from ivr.workorders.directory import Directory
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import OrderService
from ivr.workorders.store import WorkOrderStore
from ivr.workorders.supervision import SupervisionScheduler

logger = logging.getLogger(__name__)


def build_router() -> Router[CallContext]:
    router: Router[CallContext] = Router()
    intake.register(router)
    rating.register(router)
    phone.register(router)
    waiting.register(router)
    voicemail.register(router)
    progress.register(router)
    survey_calls.register(router)
    return router


def build_app(settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> web.Application:
    passwords.configure(settings.web.password_memory_kib, settings.web.password_time_cost)
    app = web.Application(middlewares=[forwarded_client(settings.web.trusted_proxies),
                                       auth_middleware(secrets.web_secret), input_middleware])
    headers.setup(app)
    app[keys.SETTINGS] = settings
    app[keys.SECRETS] = secrets
    app[keys.LAYOUT] = layout
    app[keys.METRICS] = Metrics()
    app.cleanup_ctx.append(_private_data)
    app.cleanup_ctx.append(_count_errors)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_call_recording)
    app.cleanup_ctx.append(_queue_log)
    app.cleanup_ctx.append(_ami)
    app.cleanup_ctx.append(_agents)
    app.cleanup_ctx.append(_callbacks)
    app.cleanup_ctx.append(_voicemail)
    app.cleanup_ctx.append(_surveys)
    app.cleanup_ctx.append(_sms)
    app.cleanup_ctx.append(_campaigns)
    app.cleanup_ctx.append(_fastagi)
    app.cleanup_ctx.append(_metrics)
    app.cleanup_ctx.append(_supervision)
    app.cleanup_ctx.append(_wallboard)
    app.cleanup_ctx.append(_reports)
    app.on_shutdown.append(_close_desks)
    app.on_shutdown.append(_close_campaign_streams)
    app.on_shutdown.append(_close_wallboards)
    app.on_shutdown.append(_let_survey_calls_finish)
    health.setup_routes(app)
    metrics_routes.setup_routes(app)
    shared.setup_routes(app)
    desk.setup_routes(app)
    reports.setup_routes(app)
    handoff.setup_routes(app)
    callback_routes.setup_routes(app)
    workorders.setup_routes(app)
    knowledge.setup_routes(app)
    open311.setup_routes(app)
    voicemail_routes.setup_routes(app)
    survey_routes.setup_routes(app)
    sms_routes.setup_routes(app)
    campaigns.setup_routes(app)
    wallboard.setup_routes(app)
    staffing.setup_routes(app)
    return app


async def _private_data(app: web.Application) -> AsyncIterator[None]:
    """Everything the server writes (and its children: Asterisk, Kannel) is the service's user's alone."""
    with private_umask():
        await asyncio.to_thread(make_private, app[keys.SETTINGS].data_dir)
        yield


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[keys.SETTINGS].database)
    await ensure_current(engine)
    app[keys.ENGINE] = engine
    app[LOGINS] = Logins.on(engine)
    app[keys.CALL_STORE] = CallStore(engine)
    app[keys.WORK_ORDERS] = WorkOrderStore(engine, app[keys.SETTINGS].timezone)
    directory = Directory(engine)
    app[keys.DIRECTORY] = directory
    settings = app[keys.SETTINGS]
    app[keys.ORDERS] = OrderService(engine, directory, settings.workorders, settings.timezone,
                                    settings.data_dir / "attachments")
    app[keys.ORDER_QUERIES] = OrderQueries(engine)
    app[keys.KNOWLEDGE] = KnowledgeStore(engine, app[keys.SETTINGS].workorders.knowledge_review_warning_days)
    app[keys.KNOWLEDGE].index.warm()
    yield
    await app[keys.KNOWLEDGE].close()
    await engine.dispose()


async def _close_desks(app: web.Application) -> None:
    """Before aiohttp waits for open requests: a desk's websocket would hold the shutdown up."""
    if keys.DESK_HUB in app:
        await app[keys.DESK_HUB].close()


async def _call_recording(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    writer = CallWriter(app[keys.CALL_STORE], settings.data_dir / "spool" / "calls.jsonl")
    writer.load_spool()
    app[keys.CALL_WRITER] = writer
    app[keys.TRACKER] = CallTracker(settings.sip.hotline_number, CITIZENS_CONTEXT, writer.submit)
    tasks = [
        asyncio.create_task(writer.run(), name="call-writer"),
        asyncio.create_task(classic_spool.take_in(app[keys.LAYOUT].classic_spool, writer), name="classic-spool"),
    ]
    yield
    tasks[1].cancel()
    if not await writer.drain(timeout=5):
        writer.save_spool()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _queue_log(app: web.Application) -> AsyncIterator[None]:
    """Completes and checks the call records from Asterisk's queue log (calls made while we were away)."""
    settings, writer = app[keys.SETTINGS], app[keys.CALL_WRITER]

    async def save(rows: list[Row]) -> None:
        for row in rows:
            writer.submit(row)

    importer = QueueLogImporter(app[keys.LAYOUT].queue_log, app[keys.CALL_STORE], save,
                                settings.queue.max_wait_seconds, settings.data_dir / "queue_log.state")
    app[keys.QUEUE_LOG] = importer
    task = asyncio.create_task(importer.run(settings.queue.log_import_seconds), name="queue-log-import")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _ami(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    client = AmiClient(settings.ami, app[keys.SECRETS].ami_password, QueueState())
    client.subscribe(app[keys.TRACKER].handle, app[keys.TRACKER].events)
    app[keys.AMI] = client
    app[keys.ORIGINATOR] = Originator(settings, client)
    channels = ChannelCheck(client, app[keys.TRACKER], app[keys.CALL_STORE], app[keys.CALL_WRITER],
                            app[keys.QUEUE_LOG].import_new)
    client.refresh_listeners.append(channels.after_login)
    await client.start()
    yield
    await channels.close()
    await client.stop()


async def _agents(app: web.Application) -> AsyncIterator[None]:
    store = AgentStore(app[keys.ENGINE])
    service = AgentService(app[keys.SETTINGS], app[keys.AMI], store)
    app[keys.AGENT_STORE] = store
    app[keys.AGENT_SERVICE] = service

    async def reconcile() -> None:
        await service.reconcile()

    app[keys.AMI].refresh_listeners.append(reconcile)
    service.outbox.load()
    outbox = asyncio.create_task(service.outbox.keep_writing(), name="seat-outbox")
    hub = DeskHub(app[keys.TRACKER], app[keys.CALL_STORE], app[keys.WORK_ORDERS], app[keys.SETTINGS].direct_queue)
    app[keys.DESK_HUB] = hub
    app[keys.AMI].subscribe(hub.handle, hub.EVENTS)
    yield
    await hub.close()
    outbox.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await outbox


async def _callbacks(app: web.Application) -> AsyncIterator[None]:
    dialer = CallbackDialer(app[keys.SETTINGS], app[keys.AMI], CallbackStore(app[keys.ENGINE]),
                            app[keys.ORIGINATOR])
    app[keys.CALLBACKS] = dialer
    stop_recording = app[keys.CALL_WRITER].on_written(dialer.call_written)
    app[keys.AMI].subscribe(dialer.handle, dialer.EVENTS)
    task = asyncio.create_task(dialer.run(), name="callback-dialer")
    yield
    stop_recording()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await dialer.close()


async def _voicemail(app: web.Application) -> AsyncIterator[None]:
    """Voicemail taken in as drafts (from the hang-up handler and the folder), and the transcription workers."""
    settings, hub = app[keys.SETTINGS], app[keys.DESK_HUB]
    store = VoicemailStore(app[keys.ENGINE], policy_of(settings.transcription), settings.timezone)

    def changed() -> None:
        hub.tell_everyone({"type": "voicemails"})

    worker = TranscriptionWorker(settings, store, app[keys.DIRECTORY], changed)

    def taken_in() -> None:
        worker.wake()
        changed()

    ingester = VoicemailIngester(store, app[keys.CALL_STORE], app[keys.LAYOUT].host("voicemail"),
                                 settings.data_dir / "voicemail", settings.voicemail, taken_in)
    app[keys.VOICEMAIL], app[keys.VOICEMAIL_INGESTER], app[keys.TRANSCRIBER] = store, ingester, worker
    tasks = [asyncio.create_task(ingester.run(), name="voicemail-ingest"),
             asyncio.create_task(worker.run(), name="transcription")]
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    worker.close()


async def _surveys(app: web.Application) -> AsyncIterator[None]:
    """Return visits and campaigns: the dialer plans, calls and texts; the order moves on when its visits end."""
    store = SurveyStore(app[keys.ENGINE])
    dialer = SurveyDialer(app[keys.SETTINGS], app[keys.AMI], store, OrderVisits(store, app[keys.ORDERS]).round_ended,
                          app[keys.ORIGINATOR])
    app[keys.SURVEYS], app[keys.SURVEY_DIALER] = store, dialer
    app[keys.AMI].subscribe(dialer.handle, dialer.EVENTS)
    task = asyncio.create_task(dialer.run(), name="survey-dialer")
    yield
    await dialer.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _sms(app: web.Application) -> AsyncIterator[None]:
    """The SMS channel (docs/sms.md): Kannel's boxes (unless run elsewhere), the sender, incoming SMS."""
    settings, secrets, dialer = app[keys.SETTINGS], app[keys.SECRETS], app[keys.SURVEY_DIALER]
    store = SmsStore(app[keys.ENGINE], settings.timezone)
    sender = SmsSender(settings, secrets, store)
    inbox = SmsInbox(store, app[keys.SURVEYS], sender.wake, dialer.survey_answered)
    dialer.texted_listeners.append(sender.wake)
    app[keys.SMS_STORE], app[keys.SMS_SENDER], app[keys.SMS_INBOX] = store, sender, inbox
    tasks: list[asyncio.Task[None]] = []
    if settings.sms.run_kannel:
        kannel = KannelProcess(settings, secrets, KannelLayout(settings.data_dir / "kannel"))
        kannel.started_listeners.append(sender.kannel_back)
        app[keys.KANNEL] = kannel
        try:
            await kannel.start()
        except KannelError as exc:  # calls go on without SMS; the supervisor tries again, /healthz shows it
            logger.error("kannel did not start: %s", exc)
        tasks.append(asyncio.create_task(kannel.supervise(settings.sms.restart_seconds), name="kannel"))
    try:
        await inbox.recover()
    except DATABASE_ERRORS as exc:  # Kannel delivers them again (they were not answered 200)
        logger.warning("sms: messages left unhandled not looked at: database unavailable (%s)", exc)
    sending = asyncio.create_task(sender.run(), name="sms-sender")
    yield
    await sender.stop(sending)
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if keys.KANNEL in app:
        await app[keys.KANNEL].stop()


async def _campaigns(app: web.Application) -> AsyncIterator[None]:
    """Campaigns: their store, the live progress of the page's streams, and what follows a survey's end."""
    settings = app[keys.SETTINGS]
    store = CampaignStore(app[keys.ENGINE], settings.data_dir / "campaigns", settings.timezone,
                          outbound=settings.outbound)
    progress = CampaignProgress(store.snapshot)
    follower = CampaignFollower(store.finish_if_done, progress)
    app[keys.CAMPAIGNS], app[keys.CAMPAIGN_PROGRESS] = store, progress
    app[keys.SURVEY_DIALER].ended_listeners.append(follower.survey_ended)
    yield
    progress.close()
    await follower.close()


async def _close_campaign_streams(app: web.Application) -> None:
    """Before aiohttp waits for open requests: the campaigns' event streams would hold the shutdown up."""
    if keys.CAMPAIGN_PROGRESS in app:
        app[keys.CAMPAIGN_PROGRESS].close()


async def _let_survey_calls_finish(app: web.Application) -> None:
    """Before the FastAGI server stops: survey calls in progress end their questions first."""
    if keys.SURVEY_DIALER in app:
        await app[keys.SURVEY_DIALER].stop()


async def _fastagi(app: web.Application) -> AsyncIterator[None]:
    sounds = app[keys.LAYOUT].inner("sounds")
    settings = app[keys.SETTINGS]
    services = Services(
        settings, app[keys.TRACKER], app[keys.CALL_STORE], sounds, app[keys.AGENT_SERVICE],
        app[keys.AMI].queue_state, CallbackStore(app[keys.ENGINE]) if settings.sip.carrier_contact else None,
        app[keys.WORK_ORDERS], app[keys.VOICEMAIL_INGESTER],
        orders=app[keys.ORDERS], order_queries=app[keys.ORDER_QUERIES], surveys=app[keys.SURVEY_DIALER],
        logins=app[LOGINS].throttle,
    )
    server = FastAgiServer(app[keys.SETTINGS].fastagi, build_router(), CallContextFactory(services))
    app[keys.FASTAGI] = server
    await server.start()
    yield
    await server.stop()


async def _count_errors(app: web.Application) -> AsyncIterator[None]:
    """First in, last out: errors logged while the other parts start and stop are counted too."""
    with counting_errors(app[keys.METRICS].log_errors):
        yield


async def _metrics(app: web.Application) -> AsyncIterator[None]:
    """GET /metrics reads these parts at each scrape (docs/operations.md)."""
    metrics = app[keys.METRICS]
    live_metrics.watch(metrics, app[keys.TRACKER], app[keys.AMI], app[keys.FASTAGI], app[keys.CALL_WRITER],
                       app[keys.SETTINGS].direct_queue)
    live_metrics.watch_outbound(metrics, app[keys.ORIGINATOR])
    job_metrics.watch_jobs(metrics, app[keys.ENGINE])
    yield


async def _supervision(app: web.Application) -> AsyncIterator[None]:
    """The 督办 scheduler: sends the ladder's steps as they fall due (its state is in the database)."""
    settings, orders = app[keys.SETTINGS], app[keys.ORDERS]
    scheduler = SupervisionScheduler(app[keys.ENGINE], settings.timezone, orders.calendar)
    task = asyncio.create_task(scheduler.run(settings.workorders.supervision_interval), name="supervision")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _reports(app: web.Application) -> AsyncIterator[None]:
    """Reports: the term indexer (hot topics), the schedule, and reports asked for from the page."""
    settings, engine = app[keys.SETTINGS], app[keys.ENGINE]
    maker = ReportMaker(engine, settings)
    runs = ReportRuns(engine, maker, settings.data_dir / "reports")
    indexer = TermIndexer(engine, settings.reports.wallboard_refresh_seconds)
    app[keys.REPORT_MAKER], app[keys.REPORT_RUNS], app[keys.TERM_INDEXER] = maker, runs, indexer
    app[reports.ON_REQUEST] = Background("report run", logger)
    app[keys.METRICS].add_database("hotline_report_runs", "Report runs by kind and state (running, done, failed)",
                                   runs.counts, labels=("kind", "status"))
    tasks = [asyncio.create_task(indexer.run(), name="term-indexer")]
    if settings.reports.schedule:
        tasks.append(asyncio.create_task(ReportScheduler(settings, runs).run(), name="report-schedule"))
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app[reports.ON_REQUEST].close()


async def _wallboard(app: web.Application) -> AsyncIterator[None]:
    """The live wallboard (docs/wallboard.md): pushed on queue and seat events and at each call's end; today's
    figures read again once a call's end is in the database."""
    settings, ami, tracker = app[keys.SETTINGS], app[keys.AMI], app[keys.TRACKER]
    reader = DayReader(app[keys.ENGINE], settings, app[keys.ORDERS].calendar)
    hub = WallboardHub(settings, ami.queue_state, lambda: ami.connected, tracker.live, reader)
    app[keys.WALLBOARD] = hub
    ami.subscribe(hub.handle, hub.EVENTS)
    ami.refresh_listeners.append(hub.queues_reread)
    tracker.finished_listeners.append(hub.call_finished)
    stop_reading = app[keys.CALL_WRITER].on_written(hub.call_written)
    task = asyncio.create_task(hub.run(), name="wallboard")
    yield
    stop_reading()
    hub.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_wallboards(app: web.Application) -> None:
    """Before aiohttp waits for open requests: the wallboards' event streams would hold the shutdown up."""
    if keys.WALLBOARD in app:
        app[keys.WALLBOARD].close()
