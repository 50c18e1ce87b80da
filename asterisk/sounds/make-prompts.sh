#!/bin/sh
# make-prompts.sh -- regenerate the ACD's own prompts in asterisk/sounds/en/
#
# The queues of config/acd.toml name these prompts (greeting, menu_prompt,
# closed_message); Asterisk's core sounds do not have them. They are spoken by
# espeak-ng, a text-to-speech program packaged by Debian, and converted by sox
# to what Asterisk plays without transcoding: 8 kHz, mono, 16-bit WAV.
#
#   apt-get install espeak-ng sox
#   asterisk/sounds/make-prompts.sh            # writes asterisk/sounds/en/*.wav
#
# To change what a prompt says, edit its text below and run the script again;
# to use your own recordings instead, see "Prompts" in docs/asterisk.md.
# Install the files with:
#   install -m 0644 asterisk/sounds/en/*.wav /var/lib/asterisk/sounds/en/
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out="$here/en"
mkdir -p "$out"
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "make-prompts.sh: $tool is missing (apt-get install espeak-ng sox)" >&2
        exit 1
    }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# speak VOICE TEXT FILE: one stretch of speech at espeak-ng's own rate.
speak() {
    espeak-ng -v "$1" -s 150 -w "$3" "$2"
}

# finish NAME PART...: join the parts with a short pause, convert to 8 kHz
# mono 16-bit, normalise to -3 dBFS, trim the silence at both ends.
finish() {
    name=$1
    shift
    sox -D -n -r 22050 -c 1 -b 16 "$work/pause.wav" trim 0 0.4
    inputs=""
    for part in "$@"; do
        inputs="$inputs $part $work/pause.wav"
    done
    # shellcheck disable=SC2086 # the list of parts is meant to split
    sox -D $inputs -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" \
        silence 1 0.05 0.5% reverse silence 1 0.05 0.5% reverse gain -n -3
    echo "$out/$name.wav"
}

# -- the prompts -------------------------------------------------------------

# acd-welcome-support: greeting of the support queue.
speak en-gb "Thank you for calling customer support." "$work/welcome.wav"
finish acd-welcome-support "$work/welcome.wav"

# acd-support-menu: the support queue's language menu (digit 1 English,
# digit 2 French), each half in its own language.
speak en-gb "For English, press 1." "$work/menu-en.wav"
speak fr-fr "Pour le français, appuyez sur le 2." "$work/menu-fr.wav"
finish acd-support-menu "$work/menu-en.wav" "$work/menu-fr.wav"

# acd-closed: closed_message of every queue outside its opening hours.
speak en-gb "Thank you for calling. We are closed at the moment. Please call again during our opening hours." "$work/closed.wav"
finish acd-closed "$work/closed.wav"

# acd-callback-offer: at a position announcement, when the queue offers
# callbacks ([queues.callback]); the key is the callback's "key" (default 1).
speak en-gb "To be called back instead of waiting, keeping your place in the queue, press 1." "$work/cb-offer.wav"
finish acd-callback-offer "$work/cb-offer.wav"

# acd-callback-number: which number to call.
speak en-gb "To be called back on the number you are calling from, press 1. Or enter the number to call, followed by the hash key." "$work/cb-number.wav"
finish acd-callback-number "$work/cb-number.wav"

# acd-callback-confirm: before the caller hangs up.
speak en-gb "Thank you. We will call you back when it is your turn. You can hang up now." "$work/cb-confirm.wav"
finish acd-callback-confirm "$work/cb-confirm.wav"

# acd-callback-agent: played to the agent before the caller is dialled.
speak en-gb "Callback. Connecting you to a caller who asked to be called back." "$work/cb-agent.wav"
finish acd-callback-agent "$work/cb-agent.wav"

# acd-survey: the post-call survey ([[queues]] survey = true).
speak en-gb "Before you go: how satisfied were you with this call? Press 1 for not at all, up to 5 for very satisfied." "$work/survey.wav"
finish acd-survey "$work/survey.wav"

# acd-survey-thanks: after the caller's score.
speak en-gb "Thank you for your answer. Goodbye." "$work/survey-thanks.wav"
finish acd-survey-thanks "$work/survey-thanks.wav"
