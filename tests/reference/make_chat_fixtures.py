#!/usr/bin/env python3
"""Renders the chat templates in tests/fixtures/chat_templates/ over a set of
conversations, the way transformers' apply_chat_template does, and writes
tests/fixtures/chat_template_renders.json for
tests/model/chat_template_fixtures_test.cpp (spec/model-runtime.md §2-3).

The environment is transformers' _compile_jinja_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with its
tojson filter (ensure_ascii=False) and raise_exception/strftime_now globals.
Like transformers, the renderer passes tools=None and documents=None unless a
case sets them.

Run from the repository root: python3 tests/reference/make_chat_fixtures.py
"""
import json
import pathlib
from datetime import datetime

import jinja2
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tests" / "fixtures" / "chat_templates"
OUTPUT = ROOT / "tests" / "fixtures" / "chat_template_renders.json"


def make_environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# bos_token / eos_token as each model's tokenizer_config.json names them.
TOKENS = {
    "gemma3.jinja": ("<bos>", "<eos>"),
    "smollm2.jinja": ("<|im_start|>", "<|im_end|>"),
    "llama3_1.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen2_5.jinja": ("", "<|im_end|>"),
    "qwen3.jinja": ("", "<|im_end|>"),
    "mistral.jinja": ("<s>", "</s>"),
}


def m(role, content):
    return {"role": role, "content": content}


# Conversations every template renders, with and without the generation prompt.
CONVERSATIONS = {
    "system_user": [m("system", "Be helpful."), m("user", "Hello")],
    "user_only": [m("user", "What is 2+2?")],
    "multi_turn": [m("user", "Hi"), m("assistant", "Hello! How can I help?"), m("user", "Tell me a joke.")],
    "system_multi_turn": [m("system", "You are terse."), m("user", "Hi"), m("assistant", "Yo."), m("user", "Bye")],
    "whitespace_to_trim": [m("system", "  S \n"), m("user", "  Hi there \n"), m("assistant", " Yo "), m("user", "\tMore\n\n")],
    "empty_system": [m("system", ""), m("user", "Hi")],
    "unicode": [m("system", "R\u00e9ponds en fran\u00e7ais."), m("user", "h\u00e9llo \u4e16\u754c \U0001F642\u00a0"),
                m("assistant", "\u00a0Bonjour\u3000"), m("user", "\u00c7a va ?")],
    "template_syntax_in_content": [m("user", "{{ not a tag }} {% nor this %} {# nor a comment #}")],
    "newlines_inside": [m("user", "line one\nline two\n\n  indented\n")],
    "ends_with_assistant": [m("user", "Q"), m("assistant", "A")],
    "two_users": [m("user", "a"), m("user", "b")],
    "assistant_first": [m("system", "s"), m("assistant", "a")],
}

TOOLS = [
    {"function": {"description": "Get the weather in a city", "name": "get_weather",
                  "parameters": {"properties": {"city": {"description": "City name", "type": "string"}},
                                 "required": ["city"], "type": "object"}},
     "type": "function"},
]

# Extra cases: (template, name, messages, add_generation_prompt, variables).
EXTRA = [
    ("qwen3.jinja", "thinking_disabled", CONVERSATIONS["system_user"], True, {"enable_thinking": False}),
    ("qwen3.jinja", "thinking_enabled", CONVERSATIONS["system_user"], True, {"enable_thinking": True}),
    ("qwen3.jinja", "think_in_history",
     [m("user", "Q1"), m("assistant", "<think>\nreason\n</think>\n\nA1"), m("user", "Q2"),
      m("assistant", "<think>r2</think>A2")], False, {}),
    ("qwen2_5.jinja", "with_tools", CONVERSATIONS["user_only"], True, {"tools": TOOLS}),
    ("qwen2_5.jinja", "tool_response",
     [m("user", "Weather?"), m("assistant", "Calling."), m("tool", "{\"temp\": 21}"), m("tool", "sunny")], True, {}),
    ("llama3_1.jinja", "date_string", CONVERSATIONS["system_user"], True, {"date_string": "01 Jan 2025"}),
    ("llama3_1.jinja", "tools_in_system", CONVERSATIONS["system_user"], True,
     {"tools": TOOLS, "tools_in_user_message": False}),
    ("llama3_1.jinja", "tools_in_user", CONVERSATIONS["multi_turn"], True, {"tools": TOOLS}),
    ("llama3_1.jinja", "system_only", [m("system", "Only a system prompt")], True, {}),
    ("mistral.jinja", "tool_role_rejected", [m("user", "a"), m("tool", "c")], True, {}),
]


def render(env, template_name, messages, add_generation_prompt, variables):
    template = env.from_string((TEMPLATES / template_name).read_text(encoding="utf-8"))
    bos, eos = TOKENS[template_name]
    context = {"tools": None, "documents": None, "bos_token": bos, "eos_token": eos}
    context.update(variables)
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt, **context)


def make_case(env, template_name, name, messages, add_generation_prompt, variables):
    bos, eos = TOKENS[template_name]
    case = {
        "name": f"{template_name}/{name}/{'gen' if add_generation_prompt else 'nogen'}",
        "template": template_name,
        "bos_token": bos,
        "eos_token": eos,
        "messages": messages,
        "add_generation_prompt": add_generation_prompt,
        "variables": variables,
    }
    try:
        case["expected"] = render(env, template_name, messages, add_generation_prompt, variables)
    except TemplateError as error:
        case["error"] = str(error)
    return case


def main():
    env = make_environment()
    cases = []
    for template_name in TOKENS:
        for name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                cases.append(make_case(env, template_name, name, messages, add_generation_prompt, {}))
    for template_name, name, messages, add_generation_prompt, variables in EXTRA:
        cases.append(make_case(env, template_name, name, messages, add_generation_prompt, variables))
    document = {
        "generated_by": "tests/reference/make_chat_fixtures.py",
        "jinja2_version": jinja2.__version__,
        "environment": "ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) + transformers' "
                       "tojson(ensure_ascii=False) and raise_exception; tools=None, documents=None by default",
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
