// `abliterate chat MODEL`: a plain streaming REPL, so a person can see a
// model talk. Each user line joins the conversation, the whole conversation
// is rendered with the model's chat template, and the reply is generated
// greedily and printed token by token.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <iostream>
#include <string>
#include <vector>

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/dist/model_dtype.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/tokenizer/text_stream.hpp"

namespace abliterate::cli {

namespace {

// --dtype takes the job's spellings (config::DType's table).
torch::Dtype parse_dtype(const std::string& name) {
  const std::optional<config::DType> dtype = config::parse_dtype(name);
  ABL_CHECK(dtype.has_value(), InputError, "--dtype: expected float32, bfloat16 or float16, got '{}'", name);
  return dist::torch_dtype(*dtype);
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Generates the reply to `messages`, printing it as it grows. Returns its text.
std::string stream_reply(const model::Model& model, const std::vector<chat::ChatMessage>& messages,
                         int64_t max_new_tokens) {
  const std::string prompt = model.chat_template().render(messages, /*add_generation_prompt=*/true);
  const model::PromptBatch batch = model.tokenize({prompt});
  tokenizer::TextStream stream;
  const auto print_increment = [&](int64_t, const std::vector<int64_t>& ids_so_far) {
    const std::string increment = stream.advance(model.tokenizer().decode(ids_so_far, /*skip_special=*/true));
    if (!increment.empty()) {
      std::fwrite(increment.data(), 1, increment.size(), stdout);
      std::fflush(stdout);
    }
    return false;  // never stop early: the model's stop tokens end the reply
  };
  const std::vector<int64_t> ids = model.generate(batch, max_new_tokens, /*hook=*/nullptr, print_increment).at(0);
  const std::string reply = model.tokenizer().decode(ids, /*skip_special=*/true);
  const std::string rest = stream.finish(reply);
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (static_cast<int64_t>(ids.size()) == max_new_tokens) {
    fmt::print(stderr, "[stopped at --max-new-tokens {}]\n", max_new_tokens);
  }
  return reply;
}

}  // namespace

int chat_command(const ChatArgs& args) {
  ABL_CHECK(args.max_new_tokens > 0, InputError, "--max-new-tokens: expected a positive number, got {}",
            args.max_new_tokens);
  model::LoadOptions options;
  options.dtype = parse_dtype(args.dtype);
  options.adapter = args.adapter;
  const std::unique_ptr<model::Model> model = model::Model::load(args.model_path, options);
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  fmt::print(stderr, "abliterate chat: {} ({}, {} layers). /reset starts over, /exit or Ctrl-D quits.\n",
             args.model_path, model::to_string(model->config().architecture), model->config().n_layers);
  if (!model->is_chat_template_from_model()) {
    fmt::print(stderr, "note: the model has no chat template (a base model?); using its family's built-in one\n");
  }

  std::vector<chat::ChatMessage> conversation;
  std::string line;
  while (true) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;  // Ctrl-D or end of input
    const std::string text = trimmed(line);
    if (text.empty()) continue;
    if (text == "/exit" || text == "/quit") break;
    if (text == "/reset") {
      conversation.clear();
      fmt::print(stderr, "[conversation cleared]\n");
      continue;
    }
    if (text.front() == '/') {
      fmt::print(stderr, "unknown command '{}' (commands: /reset, /exit)\n", text);
      continue;
    }
    conversation.push_back({"user", text});
    std::vector<chat::ChatMessage> messages;
    if (!args.system_prompt.empty()) messages.push_back({"system", args.system_prompt});
    messages.insert(messages.end(), conversation.begin(), conversation.end());
    conversation.push_back({"assistant", stream_reply(*model, messages, args.max_new_tokens)});
  }
  if (interactive) std::fputc('\n', stdout);
  return 0;
}

}  // namespace abliterate::cli
