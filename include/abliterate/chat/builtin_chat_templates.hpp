// Chat templates built into abliterate, for models that ship none
// (spec/model-runtime.md §2: the fallback is HF's version, system text + two newlines).
// A model's own template always wins; these only stand in when it has none.
#pragma once

#include <string_view>

namespace abliterate::chat {

// HF's Gemma 3 chat template (chat_template.jinja of google/gemma-3-270m-it;
// spec §2), newlines inside string literals included. The Gemma 3 base models
// (gemma-3-270m and its GGUF) carry no template; the -it ones carry this one.
inline constexpr std::string_view kGemma3ChatTemplate = R"TEMPLATE({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '

' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '

' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>
' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model
'}}
{%- endif -%}
)TEMPLATE";

// llama.cpp's fallback for a GGUF without tokenizer.chat_template
// (CHATML_TEMPLATE_SRC in common/chat.cpp): ChatML, no default system prompt.
inline constexpr std::string_view kChatMlChatTemplate = R"TEMPLATE({%- for message in messages -%}
    {{- '<|im_start|>' + message.role + '
' + message.content + '<|im_end|>
' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant
' -}}
{%- endif -%})TEMPLATE";

}  // namespace abliterate::chat
