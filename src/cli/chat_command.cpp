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
#include "abliterate/runner/model_dtype.hpp"
#include "abliterate/runner/stored_study.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/tokenizer/text_stream.hpp"
#include "number_arguments.hpp"

namespace abliterate::cli {

namespace {

// --dtype takes the job's spellings (config::DType's table).
torch::Dtype parse_dtype(const std::string& name) {
  const std::optional<config::DType> dtype = config::parse_dtype(name);
  ABL_CHECK(dtype.has_value(), InputError, "--dtype: expected float32, bfloat16 or float16, got '{}'", name);
  return runner::torch_dtype(*dtype);
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Generates the reply to `messages`, printing it as it grows. Returns its text.
std::string stream_reply(const model::Model& model, const std::vector<chat::ChatMessage>& messages,
                         int64_t max_new_tokens, const model::ProjectionHook* hook) {
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
  const std::vector<int64_t> ids = model.generate(batch, max_new_tokens, hook, print_increment).at(0);
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

// The trials of a study (--store), applied to the loaded model one at a time.
class TrialSwitch {
 public:
  TrialSwitch(const runner::StoredStudy& study, const model::Model& model) : study_(study), model_(model) {}

  // Applies trial `number`, or the original model for nullopt. Throws
  // InputError for a trial the study does not have.
  void select(std::optional<int64_t> number) {
    if (!number) {
      hook_.reset();
      number_.reset();
      return;
    }
    const config::AblationParams params = runner::stored_trial_params(study_, *number);
    hook_.emplace(model_, study_.preparation.directions, params, study_.job.row_normalization);
    number_ = number;
  }

  const model::ProjectionHook* hook() const { return hook_ ? &*hook_ : nullptr; }
  std::string describe() const {
    return number_ ? fmt::format("trial {} of study \"{}\"", *number_, study_.study_name) : "the original model";
  }

 private:
  const runner::StoredStudy& study_;
  const model::Model& model_;
  std::optional<method::AblationHook> hook_;
  std::optional<int64_t> number_;
};

// "/trial 3" -> 3, "/trial none" -> nullopt; throws InputError otherwise.
std::optional<int64_t> parse_trial_command(const std::string& argument) {
  if (argument == "none") return std::nullopt;
  const std::optional<int64_t> number = parse_whole_integer(argument);
  ABL_CHECK(number.has_value() && *number >= 0, InputError, "/trial: expected a trial number or none, got '{}'",
            argument);
  return number;
}

// The study of --store (nullopt without it), after checking that the options fit together.
std::optional<runner::StoredStudy> open_study_of(const ChatArgs& args) {
  if (!args.store) {
    ABL_CHECK(!args.model_path.empty(), InputError, "chat: give a MODEL, or a study's --store");
    ABL_CHECK(!args.trial && !args.job && !args.study_name, InputError,
              "chat: --trial, --job and --study need --store");
    return std::nullopt;
  }
  ABL_CHECK(args.model_path.empty(), InputError,
            "chat: give a MODEL or --store, not both (--store talks to the study's own model)");
  ABL_CHECK(args.adapter.empty(), InputError,
            "chat: --adapter does not go with --store (the study's adapter, if any, is applied)");
  return runner::open_stored_study(*args.store, args.job, args.study_name);
}

}  // namespace

int chat_command(const ChatArgs& args) {
  ABL_CHECK(args.max_new_tokens > 0, InputError, "--max-new-tokens: expected a positive number, got {}",
            args.max_new_tokens);
  const std::optional<runner::StoredStudy> study = open_study_of(args);
  std::string model_path = args.model_path;
  model::LoadOptions options;
  options.dtype = parse_dtype(args.dtype);
  options.adapter = args.adapter;
  if (study) {
    model_path = study->job.resolve_input(study->job.model).string();
    if (study->job.adapter) options.adapter = study->job.resolve_input(*study->job.adapter).string();
  }
  const std::unique_ptr<model::Model> model = model::Model::load(model_path, options);
  std::optional<TrialSwitch> trials;
  if (study) {
    trials.emplace(*study, *model);
    trials->select(args.trial);
  }
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  fmt::print(stderr, "abliterate chat: {} ({}, {} layers). /reset starts over, {}/exit or Ctrl-D quits.\n", model_path,
             model::to_string(model->config().architecture), model->config().n_layers,
             trials ? "/trial N switches trials (/trial none: the original), " : "");
  if (trials) fmt::print(stderr, "[talking to {}]\n", trials->describe());
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
    if (text.starts_with("/trial")) {
      if (!trials) {
        fmt::print(stderr, "/trial needs a study: start chat with --store STORE\n");
        continue;
      }
      const std::string argument = trimmed(text.substr(6));
      try {
        if (!argument.empty()) trials->select(parse_trial_command(argument));
      } catch (const InputError& e) {
        fmt::print(stderr, "{}\n", e.what());
        continue;
      }
      // Earlier replies came from another model: a new trial starts a new conversation.
      if (!argument.empty()) conversation.clear();
      fmt::print(stderr, "[talking to {}{}]\n", trials->describe(), argument.empty() ? "" : "; conversation cleared");
      continue;
    }
    if (text.front() == '/') {
      fmt::print(stderr, "unknown command '{}' (commands: /reset, {}/exit)\n", text, trials ? "/trial N, " : "");
      continue;
    }
    conversation.push_back({"user", text});
    std::vector<chat::ChatMessage> messages;
    if (!args.system_prompt.empty()) messages.push_back({"system", args.system_prompt});
    messages.insert(messages.end(), conversation.begin(), conversation.end());
    const model::ProjectionHook* hook = trials ? trials->hook() : nullptr;
    conversation.push_back({"assistant", stream_reply(*model, messages, args.max_new_tokens, hook)});
  }
  if (interactive) std::fputc('\n', stdout);
  return 0;
}

}  // namespace abliterate::cli
