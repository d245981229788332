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
echo "chat: ok"
