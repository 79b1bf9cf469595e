"""Generation through any OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp, Ollama).

A model word ``openai:URL#MODEL`` (``NAME=openai:URL#MODEL`` to label it) makes a
``LoadedModel`` whose ``model`` is an ``OpenAIClient`` and whose ``device`` is ``"remote"``;
``srllm.models.generate`` and ``stream`` hand such models to this module. Requests go to
``POST {URL}/chat/completions`` with the standard library only (``urllib``): a thread pool keeps
``concurrency`` requests in flight; connection errors, timeouts, HTTP 408, 429 and 5xx are
retried with exponential backoff and jitter (a ``Retry-After`` header is honoured); a prompt
that still fails is returned as a ``Generation`` with ``error`` set, so a run never aborts.

Settings come from the environment (each has a default):

- ``SRLLM_OPENAI_CONCURRENCY`` (8): requests in flight at once;
- ``SRLLM_OPENAI_TIMEOUT`` (120): seconds a socket may wait for the server;
- ``SRLLM_OPENAI_MAX_RETRIES`` (5): retries after the first attempt;
- ``SRLLM_OPENAI_BACKOFF`` (0.5): first backoff in seconds, doubled per retry (capped at 30);
- ``SRLLM_OPENAI_API_KEY`` or ``OPENAI_API_KEY``: sent as ``Authorization: Bearer`` when set.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any

from srllm.config import GenerationConfig, ModelSpec
from srllm.errors import ConfigError, ModelError
from srllm.models.types import FunctionBackend, Generation, LoadedModel, OnBatch

log = logging.getLogger(__name__)

SCHEME = "openai:"
REMOTE_DEVICE = "remote"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try (with any other 5xx); other 4xx are the request's fault."""
_ENV = "SRLLM_OPENAI_"


def _meta(help_text: str) -> dict[str, str]:
    return {"help": help_text}


@dataclass(frozen=True)
class RemoteSettings:
    """How requests to an OpenAI-compatible endpoint are sent and retried."""

    concurrency: int = field(default=8, metadata=_meta("Requests in flight at once."))
    timeout_s: float = field(
        default=120.0, metadata=_meta("Seconds a socket may wait for the server (per request).")
    )
    max_retries: int = field(default=5, metadata=_meta("Retries after the first attempt."))
    backoff_s: float = field(
        default=0.5, metadata=_meta("First backoff in seconds; doubled per retry, with jitter.")
    )
    backoff_max_s: float = field(default=30.0, metadata=_meta("Longest computed backoff."))
    retry_after_max_s: float = field(
        default=120.0, metadata=_meta("Longest wait a server's Retry-After header may ask for.")
    )

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 1024:
            raise ConfigError("openai concurrency must be between 1 and 1024")
        if not 0 < self.timeout_s <= 3600:
            raise ConfigError("openai timeout must be between 0 and 3600 seconds")
        if not 0 <= self.max_retries <= 100:
            raise ConfigError("openai max retries must be between 0 and 100")
        if not 0 <= self.backoff_s <= self.backoff_max_s:
            raise ConfigError("openai backoff must be between 0 and the maximum backoff")
        if self.retry_after_max_s < 0:
            raise ConfigError("openai retry-after cap must not be negative")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RemoteSettings:
        """Settings from ``SRLLM_OPENAI_*`` variables; a malformed value is a ``ConfigError``."""
        env = dict(os.environ if env is None else env)
        kwargs: dict[str, Any] = {}
        for key, name, kind in (
            ("concurrency", "CONCURRENCY", int),
            ("timeout_s", "TIMEOUT", float),
            ("max_retries", "MAX_RETRIES", int),
            ("backoff_s", "BACKOFF", float),
        ):
            raw = env.get(_ENV + name, "").strip()
            if not raw:
                continue
            try:
                kwargs[key] = kind(raw)
            except ValueError as exc:
                raise ConfigError(f"{_ENV}{name}={raw!r} is not a number") from exc
        return cls(**kwargs)


class EndpointError(ModelError):
    """An OpenAI-compatible endpoint failed or answered something unusable."""


def is_remote(source: str) -> bool:
    """Whether a model source names an OpenAI-compatible endpoint."""
    return source.strip().startswith(SCHEME)


def parse_source(source: str) -> tuple[str, str]:
    """Split ``openai:URL#MODEL`` into the base URL (no trailing slash) and the model id."""
    rest = source.strip()[len(SCHEME) :]
    url, sep, model = rest.rpartition("#")
    if not sep or not model.strip() or not url.strip():
        raise ModelError(
            f"{source!r}: name the endpoint and the model as openai:URL#MODEL, "
            "e.g. openai:http://127.0.0.1:8000/v1#my-model"
        )
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ModelError(f"{source!r}: the endpoint must be an http:// or https:// URL")
    path = parts.path.rstrip("/").removesuffix("/chat/completions").rstrip("/")
    return parts._replace(path=path).geturl(), model.strip()


def remote_spec(word: str, label: str | None = None) -> ModelSpec:
    """The spec for ``openai:URL#MODEL``: source is the whole word, name the model or label."""
    _, model = parse_source(word)
    return ModelSpec(name=label or model, source=word.strip())


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), cap)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OpenAIClient:
    """A thread-safe client for one model behind one OpenAI-compatible base URL."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        settings: RemoteSettings | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.base_url = parts._replace(query="", fragment="").geturl().rstrip("/")
        self._query = f"?{parts.query}" if parts.query else ""  # e.g. ?api-version=...
        self.model = model
        self.settings = settings or RemoteSettings()
        self._api_key = api_key
        # Loopback servers are reached directly even when an HTTP proxy is configured.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(self.base_url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"OpenAIClient({self.base_url!r}, model={self.model!r})"

    # -- transport -----------------------------------------------------------------------
    def _request(self, path: str, body: dict | None) -> urllib.request.Request:
        headers = {"Accept": "application/json", "User-Agent": "srllm"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        method = "GET" if body is None else "POST"
        return urllib.request.Request(
            self.base_url + path + self._query, data=data, headers=headers, method=method
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: uniform in [d/2, d], d = base * 2**attempt."""
        s = self.settings
        ceiling = min(s.backoff_max_s, s.backoff_s * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _send(
        self,
        path: str,
        body: dict | None,
        *,
        keep_open: bool = False,
        stop: threading.Event | None = None,
    ) -> Any:
        """Send a request, retrying transient failures; the parsed JSON reply.

        With ``keep_open`` the open response is returned instead (the caller closes it).
        Setting ``stop`` makes a waiting retry give up at once (Ctrl-C, a stopped run).
        Raises ``EndpointError`` once the retries are spent, or at once for a client error.
        """
        s = self.settings
        url = self.base_url + path
        attempt = 0
        while True:
            wait_s: float
            try:
                resp = self._opener.open(self._request(path, body), timeout=s.timeout_s)
                if keep_open:
                    return resp
                with resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                detail = _http_detail(exc)
                status = exc.code
                retry = status in RETRY_STATUS or status >= 500
                what = f"HTTP {status} from {url}" + (f": {detail}" if detail else "")
                if not retry or attempt >= s.max_retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise EndpointError(what + tries) from exc
                asked = _retry_after(exc.headers.get("Retry-After"), s.retry_after_max_s)
                wait_s = self._backoff(attempt) if asked is None else asked
            except (urllib.error.URLError, HTTPException, OSError, ValueError) as exc:
                # URLError: refused/unresolvable; OSError: reset or socket timeout;
                # HTTPException: truncated reply; ValueError: a body that is not JSON.
                reason = getattr(exc, "reason", None) or exc
                what = f"{url}: {type(reason).__name__}: {_short(str(reason)) or 'no detail'}"
                if attempt >= s.max_retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise EndpointError(what + tries) from exc
                wait_s = self._backoff(attempt)
            log.debug("retrying %s in %.2fs (attempt %d): %s", url, wait_s, attempt + 1, what)
            if (stop or threading.Event()).wait(wait_s):
                raise EndpointError(f"{what} (stopped before retrying)")
            attempt += 1

    # -- API -----------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """Model ids the server offers (``GET /models``)."""
        data = self._send("/models", None)
        items = data.get("data", []) if isinstance(data, dict) else []
        return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]

    def chat(self, body: dict, *, stop: threading.Event | None = None) -> dict:
        """One non-streamed chat completion (``body`` without ``model``); the parsed JSON."""
        data = self._send("/chat/completions", {"model": self.model, **body}, stop=stop)
        if not isinstance(data, dict):
            raise EndpointError(f"{self.base_url}/chat/completions answered a non-object")
        return data

    def chat_stream(self, body: dict) -> Iterator[str]:
        """Text pieces of a streamed chat completion (server-sent events)."""
        full = {"model": self.model, **body, "stream": True}
        # Only opening the stream is retried: once text has been shown it cannot be taken back.
        resp = self._send("/chat/completions", full, keep_open=True)
        with resp:
            try:
                for raw in resp:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event names
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    try:
                        event = json.loads(payload)
                    except ValueError as exc:
                        bad = _short(payload)
                        raise EndpointError(f"bad event from the stream: {bad}") from exc
                    if not isinstance(event, dict):
                        continue
                    if event.get("error"):
                        raise EndpointError(f"the server stopped the stream: {event['error']}")
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield piece
            except (HTTPException, OSError) as exc:
                raise EndpointError(f"the stream broke: {type(exc).__name__}: {exc}") from exc


def _http_detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message, briefly (OpenAI-style ``{"error": {"message": ...}}``)."""
    try:
        raw = exc.read(4096).decode("utf-8", "replace")
    except (OSError, HTTPException):
        return ""
    finally:
        exc.close()
    try:
        data = json.loads(raw)
    except ValueError:
        return _short(raw)
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        err = err.get("message") or err.get("detail") or err
    return _short(str(err))


def api_key_from_env() -> str | None:
    """``SRLLM_OPENAI_API_KEY``, else ``OPENAI_API_KEY``, else None."""
    for name in ("SRLLM_OPENAI_API_KEY", "OPENAI_API_KEY"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def load_remote(spec: ModelSpec, settings: RemoteSettings | None = None) -> LoadedModel:
    """A ``LoadedModel`` for an endpoint; checks that the server answers ``GET /models``.

    An unreachable server, a URL without the API (404) or a refused key is a ``ModelError``;
    other answers only log a warning (the chat requests record their own errors).
    """
    started = time.perf_counter()
    url, model = parse_source(spec.source)
    if spec.adapter:
        raise ModelError(f"{spec.name}: adapters cannot be applied to a remote endpoint")
    settings = settings or RemoteSettings.from_env()
    client = OpenAIClient(url, model, api_key=api_key_from_env(), settings=settings)
    served: list[str] | None = None
    try:
        served = client.list_models()
    except EndpointError as exc:
        status = getattr(exc.__cause__, "code", None)
        if status is None:
            raise ModelError(f"cannot reach the endpoint of {spec.name!r}: {exc}") from exc
        if status == 404:
            raise ModelError(
                f"{url} is not an OpenAI-compatible API (GET /models: 404); "
                "the URL usually ends in /v1"
            ) from exc
        if status in (401, 403):
            raise ModelError(
                f"{url} refused the request (HTTP {status}): set SRLLM_OPENAI_API_KEY"
            ) from exc
        log.warning("%s: listing models failed (%s); generating anyway", url, exc)
    if served and model not in served:
        log.warning("%s serves %s, not %r; the server may reject or remap it", url, served, model)
    fingerprint = {
        "source": spec.source,
        "backend": "openai",
        "url": url,
        "model": model,
        "served_models": served,
        "adapter": None,
        "adapter_sha256": None,
        "device": REMOTE_DEVICE,
        "settings": asdict(settings),
    }
    return LoadedModel(
        spec=spec,
        model=client,
        tokenizer=None,
        device=REMOTE_DEVICE,
        load_seconds=time.perf_counter() - started,
        fingerprint=fingerprint,
        backend=REMOTE,
    )


def _messages(prompt: str, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return messages


def request_body(prompt: str, cfg: GenerationConfig, *, seed: int) -> dict[str, Any]:
    """The chat-completion request for one prompt (greedy = temperature 0)."""
    return {
        "messages": _messages(prompt, cfg.system_prompt),
        "max_tokens": cfg.max_new_tokens,
        "temperature": 0.0 if cfg.greedy else cfg.temperature,
        "top_p": 1.0 if cfg.greedy else cfg.top_p,
        "seed": seed,
    }


def parse_completion(data: dict) -> tuple[str, int]:
    """The reply's text and completion-token count (0 when the server reports no usage)."""
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise EndpointError(f"the response has no message: {_short(json.dumps(data))}") from exc
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise EndpointError("the response's message has no text content")
    usage = data.get("usage") or {}
    n_tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return text.strip(), int(n_tokens) if isinstance(n_tokens, int) else 0


def generate_remote(
    lm: LoadedModel,
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    seed_offset: int = 0,
    on_batch: OnBatch | None = None,
) -> list[Generation]:
    """One response per prompt from the endpoint, ``concurrency`` requests at a time.

    Never raises for a single prompt: a failure after the retries is a ``Generation`` with
    ``error``. ``on_batch([i], [generation])`` is called (in the caller's thread) as each
    prompt finishes. Prompt ``i`` is sent with seed ``cfg.seed + seed_offset + i``.
    """
    client: OpenAIClient = lm.model
    results: list[Generation | None] = [None] * len(prompts)
    stop = threading.Event()

    def one(i: int) -> Generation:
        started = time.perf_counter()
        try:
            body = request_body(prompts[i], cfg, seed=cfg.seed + seed_offset + i)
            text, n_tokens = parse_completion(client.chat(body, stop=stop))
        except Exception as exc:  # one failed prompt is recorded, the run goes on
            return Generation(
                text=None,
                n_tokens=0,
                seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {str(exc)[:300]}",
            )
        return Generation(text=text, n_tokens=n_tokens, seconds=time.perf_counter() - started)

    if not prompts:
        return []
    workers = min(client.settings.concurrency, len(prompts))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="srllm-openai")
    pending: dict[Future[Generation], int] = {}
    try:
        pending = {pool.submit(one, i): i for i in range(len(prompts))}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                results[i] = fut.result()
                if on_batch is not None:
                    on_batch([i], [results[i]])  # type: ignore[list-item]
    except BaseException:
        # Ctrl-C: queued prompts are dropped, waiting retries give up, requests in flight
        # finish in the background (their answers are discarded).
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [r for r in results if r is not None]


def stream_remote(lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
    """Yield the endpoint's reply piece by piece (``stream: true``); raises ``EndpointError``."""
    client: OpenAIClient = lm.model
    yield from client.chat_stream(request_body(prompt, cfg, seed=cfg.seed))


REMOTE = FunctionBackend("remote", False, generate_remote, stream_remote)
"""An OpenAI-compatible endpoint: ``concurrency`` requests at a time."""
