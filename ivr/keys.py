"""Typed keys for what the composition root puts on the aiohttp application."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.agents.service import AgentService
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.originate import Originator
from ivr.asterisk.layout import AsteriskLayout
from ivr.callbacks.dialer import CallbackDialer
from ivr.calls.queue_log import QueueLogImporter
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import CallTracker
from ivr.campaigns.progress import CampaignProgress
from ivr.campaigns.store import CampaignStore
from ivr.desk.hub import DeskHub
from ivr.fastagi import FastAgiServer
from ivr.intake.context import CallContext
from ivr.knowledge.store import KnowledgeStore
from ivr.metrics.collector import Metrics
from ivr.reports.builder import ReportMaker
from ivr.reports.runs import ReportRuns
from ivr.reports.terms import TermIndexer
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms.inbox import SmsInbox
from ivr.sms.kannel import KannelProcess
from ivr.sms.sender import SmsSender
from ivr.sms.store import SmsStore
from ivr.surveys.dialer import SurveyDialer
from ivr.surveys.store import SurveyStore
from ivr.voicemail.ingest import VoicemailIngester
from ivr.voicemail.store import VoicemailStore
from ivr.voicemail.worker import TranscriptionWorker
from ivr.wallboard.live import WallboardHub
from ivr.workorders.directory import Directory
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import OrderService
from ivr.workorders.store import WorkOrderStore

SETTINGS = web.AppKey("settings", Settings)
SECRETS = web.AppKey("secrets", Secrets)
LAYOUT = web.AppKey("layout", AsteriskLayout)
ENGINE = web.AppKey("engine", AsyncEngine)
CALL_STORE = web.AppKey("call_store", CallStore)
WORK_ORDERS = web.AppKey("work_orders", WorkOrderStore)
CALL_WRITER = web.AppKey("call_writer", CallWriter)
QUEUE_LOG = web.AppKey("queue_log", QueueLogImporter)
TRACKER = web.AppKey("tracker", CallTracker)
AMI = web.AppKey("ami", AmiClient)
ORIGINATOR = web.AppKey("originator", Originator)  # every call out goes through it (ivr/ami/originate.py)
AGENT_STORE = web.AppKey("agent_store", AgentStore)
AGENT_SERVICE = web.AppKey("agent_service", AgentService)
DESK_HUB = web.AppKey("desk_hub", DeskHub)
CALLBACKS = web.AppKey("callbacks", CallbackDialer)
FASTAGI = web.AppKey("fastagi", FastAgiServer[CallContext])
DIRECTORY = web.AppKey("directory", Directory)
ORDERS = web.AppKey("orders", OrderService)
ORDER_QUERIES = web.AppKey("order_queries", OrderQueries)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeStore)
VOICEMAIL = web.AppKey("voicemail", VoicemailStore)
VOICEMAIL_INGESTER = web.AppKey("voicemail_ingester", VoicemailIngester)
TRANSCRIBER = web.AppKey("transcriber", TranscriptionWorker)
SURVEYS = web.AppKey("surveys", SurveyStore)
SURVEY_DIALER = web.AppKey("survey_dialer", SurveyDialer)
CAMPAIGNS = web.AppKey("campaigns", CampaignStore)
CAMPAIGN_PROGRESS = web.AppKey("campaign_progress", CampaignProgress)
SMS_STORE = web.AppKey("sms_store", SmsStore)
SMS_SENDER = web.AppKey("sms_sender", SmsSender)
SMS_INBOX = web.AppKey("sms_inbox", SmsInbox)
KANNEL = web.AppKey("kannel", KannelProcess)  # only when the server runs Kannel (sms.run_kannel)
METRICS = web.AppKey("metrics", Metrics)  # GET /metrics; other parts register their figures here (docs/operations.md)
REPORT_MAKER = web.AppKey("report_maker", ReportMaker)
REPORT_RUNS = web.AppKey("report_runs", ReportRuns)
TERM_INDEXER = web.AppKey("term_indexer", TermIndexer)
WALLBOARD = web.AppKey("wallboard", WallboardHub)
