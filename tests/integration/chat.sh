#!/usr/bin/env bash
# `abliterate chat` on the tiny model: user lines in, a streamed reply to each
# out (each ends with a newline), exit 0. Greedy decoding makes it
# deterministic: a two-turn session starts with the one-turn session's reply;
# after /reset the same question gets the same reply again; /exit and end of
# input end the session.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir chat)
cd "$dir"

chat() { "$ABLITERATE" chat "$TINY_MODEL" --max-new-tokens 8 "$@"; }

printf 'Hello there\n' | chat >one.out 2>one.err || fail "chat exited $? (stderr: $(cat one.err))"
grep -q "abliterate chat: $TINY_MODEL" one.err || fail "no banner on stderr: $(cat one.err)"
one=$(cat one.out; echo x)  # x keeps trailing newlines
one=${one%x}
[ -n "$(printf '%s' "$one" | tr -d '[:space:]')" ] || fail "the reply is empty: $(cat -A one.out)"
[ "${one: -1}" = $'\n' ] || fail "the reply does not end with a newline"

printf 'Hello there\nWhat is two plus two?\n' | chat >two.out 2>two.err || fail "two-turn chat exited $?"
two=$(cat two.out; echo x)
two=${two%x}
[ "${two:0:${#one}}" = "$one" ] || fail "the first of two turns differs from the one-turn reply: $(cat -A two.out)"
second=${two:${#one}}
[ -n "$(printf '%s' "$second" | tr -d '[:space:]')" ] || fail "the second reply is empty: $(cat -A two.out)"

printf 'Hello there\n/reset\nHello there\n/exit\nnever read\n' | chat >reset.out 2>reset.err ||
  fail "chat exited $? after /reset"
grep -q "conversation cleared" reset.err || fail "/reset not acknowledged: $(cat reset.err)"
[ "$(cat reset.out)" = "$(printf '%s%s' "$one" "$one")" ] ||
  fail "after /reset the same question should get the same reply (and /exit end it): $(cat -A reset.out)"

# bf16 and a system prompt load and answer too.
printf 'Hi\n' | chat --dtype bfloat16 --system "Be brief." >bf16.out 2>bf16.err ||
  fail "bf16 chat exited $? (stderr: $(cat bf16.err))"
[ -s bf16.out ] || fail "bf16 chat printed nothing"

# A bad option is one line naming it, and exit 1.
if printf 'Hi\n' | chat --dtype float8 >/dev/null 2>bad.err; then fail "--dtype float8 was accepted"; fi
grep -q -- "--dtype" bad.err || fail "no message naming --dtype: $(cat bad.err)"
# chat --store: a study's trial, applied to the model in place (nothing
# exported). Trial 0 is enqueued with strong weights on every layer, so its
# greedy reply differs from the original model's; /trial none is the original
# again, and its reply equals the plain chat's.
# (The tiny model has 4 layers: positions in [1.8, 3], distances in [1, 1.8].)
write_tiny_job job.yaml 1 "enqueue_trials:" \
  "  - {direction_index: 2.0, attn.o_proj.max_weight: 1.5, attn.o_proj.max_weight_position: 2.5," \
  "     attn.o_proj.min_weight: 1.0, attn.o_proj.min_weight_distance: 1.7, mlp.down_proj.max_weight: 1.5," \
  "     mlp.down_proj.max_weight_position: 2.5, mlp.down_proj.min_weight: 1.0, mlp.down_proj.min_weight_distance: 1.7}"
"$ABLITERATE" run job.yaml >run.log 2>&1 || { cat run.log; fail "the study for chat --store failed"; }
study_chat() { "$ABLITERATE" chat --store study.db --job job.yaml --max-new-tokens 8 "$@"; }
printf 'Hello there\n/trial none\nHello there\n' | study_chat --trial 0 >trial.out 2>trial.err ||
  fail "chat --store exited $? (stderr: $(cat trial.err))"
grep -qF '[talking to trial 0 of study "tiny"]' trial.err || fail "no line naming the trial: $(cat trial.err)"
grep -qF '[talking to the original model; conversation cleared]' trial.err || fail "/trial none not acknowledged"
ablated=$(head -n 1 trial.out)
original=$(sed -n 2p trial.out)
[ "$original" = "${one%$'\n'}" ] || fail "/trial none should answer as the plain model: '$original' vs '$one'"
[ "$ablated" != "$original" ] || fail "trial 0 answered as the original model: '$ablated'"
# Without --job the store's settings name the model (absolute here).
printf 'Hello there\n' | "$ABLITERATE" chat --store study.db --trial 0 --max-new-tokens 8 >settings.out 2>&1 ||
  fail "chat --store without --job exited $?: $(cat settings.out)"
grep -qF "$ablated" settings.out || fail "the stored settings gave another reply: $(cat settings.out)"

# Bad input: a trial the study lacks (at start: an error; in the REPL: a message), a missing store, MODEL and --store.
if printf 'Hi\n' | study_chat --trial 7 >/dev/null 2>bad_trial.err; then fail "--trial 7 was accepted"; fi
grep -qF 'study.db: study "tiny" has no trial 7 (its trials are 0 to 0)' bad_trial.err ||
  fail "no message naming the trial: $(cat bad_trial.err)"
printf '/trial 7\n/trial x\n' | study_chat >repl.out 2>repl.err || fail "a bad /trial ended the REPL"
grep -qF 'has no trial 7' repl.err && grep -qF "/trial: expected a trial number or none, got 'x'" repl.err ||
  fail "bad /trial commands were not explained: $(cat repl.err)"
if printf 'Hi\n' | "$ABLITERATE" chat --store missing.db >/dev/null 2>missing.err; then fail "a missing store was accepted"; fi
grep -qF "missing.db: no such store" missing.err || fail "no message naming the store: $(cat missing.err)"
if printf 'Hi\n' | "$ABLITERATE" chat "$TINY_MODEL" --store study.db >/dev/null 2>both.err; then
  fail "MODEL with --store was accepted"
fi
grep -qF "not both" both.err || fail "no message for MODEL with --store: $(cat both.err)"
echo "chat: ok"
