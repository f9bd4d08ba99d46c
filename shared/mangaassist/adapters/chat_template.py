"""The SageMaker model's chat template: how a system prompt and turns become one TGI `inputs` string.

User and history text is escaped first: anything that looks like a role tag or a special token (`</user>`,
`<system>`, `<|im_start|>`, `[INST]`, `<<SYS>>`, `</s>`) has its brackets swapped for look-alikes the tokenizer
does not know, so a message cannot close its own turn and open a system block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"<(\s*/?\s*(?:system|user|assistant|human|ai|bot|s|inst|sys|context|im_start|im_end|"
                  r"start_header_id|end_header_id|eot_id)\b[^<>]{0,40})>", re.IGNORECASE)
_SPECIAL = re.compile(r"<\||\|>")
_BRACKETED = re.compile(r"\[(\s*/?\s*(?:INST|SYS)\s*)\]", re.IGNORECASE)
_LLAMA2_SYS = re.compile(r"<<(\s*/?\s*SYS\s*)>>", re.IGNORECASE)


def escape_role_tags(text: str) -> str:
    """Neutralise role tags and special tokens in untrusted text; ordinary text is left as it is."""
    text = _SPECIAL.sub(lambda m: "‹|" if m.group() == "<|" else "|›", text)
    text = _LLAMA2_SYS.sub(r"‹‹\1››", text)
    text = _TAG.sub(r"‹\1›", text)
    return _BRACKETED.sub(r"⟦\1⟧", text)


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    begin: str
    system: str  # "{text}" placeholders
    user: str
    assistant: str
    generation: str  # what opens the reply the model writes
    stop: tuple[str, ...]


TEMPLATES = {
    "chatml": ChatTemplate("chatml", "", "<|im_start|>system\n{text}<|im_end|>\n",
                           "<|im_start|>user\n{text}<|im_end|>\n", "<|im_start|>assistant\n{text}<|im_end|>\n",
                           "<|im_start|>assistant\n", ("<|im_end|>",)),
    "llama3": ChatTemplate("llama3", "<|begin_of_text|>",
                           "<|start_header_id|>system<|end_header_id|>\n\n{text}<|eot_id|>",
                           "<|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>",
                           "<|start_header_id|>assistant<|end_header_id|>\n\n{text}<|eot_id|>",
                           "<|start_header_id|>assistant<|end_header_id|>\n\n", ("<|eot_id|>",)),
    # Mistral has no system role: the system prompt leads the first user turn, as its own template does.
    "mistral": ChatTemplate("mistral", "<s>", "{text}\n\n", "[INST] {text} [/INST]", "{text}</s>", "",
                            ("</s>",)),
}


def render(template: ChatTemplate, system: str, messages: list[dict[str, str]]) -> str:
    """The prompt: the system block, every turn escaped, then the opening of the assistant's reply."""
    turns = [(m["role"], escape_role_tags(m["text"])) for m in messages]
    parts = [template.begin]
    if template.name == "mistral":  # no system role: the system prompt leads the first user turn
        lead = template.system.format(text=system)
        for role, text in turns:
            if role == "user":
                text, lead = lead + text, ""
            parts.append((template.user if role == "user" else template.assistant).format(text=text))
    else:
        parts.append(template.system.format(text=system))
        parts += [(template.user if role == "user" else template.assistant).format(text=text) for role, text in turns]
    parts.append(template.generation)
    return "".join(parts)


def parse(template: ChatTemplate, prompt: str) -> tuple[str, list[dict[str, str]]]:
    """The system prompt and turns back from a rendered prompt (the local SageMaker stand-in reads it)."""
    if template.name == "mistral":
        users = re.findall(r"\[INST\] (.*?) \[/INST\]", prompt, re.DOTALL)
        system, _, first = users[0].partition("\n\n") if users else ("", "", "")
        turns = [first, *users[1:]]
        return system, [{"role": "user", "text": t} for t in turns]
    head, tail = template.system.split("{text}")
    system = prompt.split(head, 1)[1].split(tail, 1)[0] if head in prompt else ""
    turns = []
    for role in ("user", "assistant"):
        open_, close = getattr(template, role).split("{text}")
        turns += [(m.start(), {"role": role, "text": m.group(1)})
                  for m in re.finditer(re.escape(open_) + "(.*?)" + re.escape(close), prompt, re.DOTALL)]
    return system, [turn for _, turn in sorted(turns, key=lambda item: item[0])]


def detect(prompt: str) -> ChatTemplate:
    """The template a rendered prompt was written with (by its system block's opening)."""
    for template in TEMPLATES.values():
        if template.name != "mistral" and template.begin + template.system.split("{text}")[0] in prompt:
            return template
    return TEMPLATES["mistral"]
