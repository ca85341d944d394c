"""The `minnow` command: try a trained model folder from a terminal or a pipe.

`minnow sample` continues a prompt; `minnow chat` is a read-answer loop that
keeps the conversation (trimmed to the model's context) and reads stdin line by
line, so a script can drive it as well as a person. Bad input prints one line,
`minnow: ERROR: ...`, and exits 1: a sentence to act on, not a traceback.
"""

import argparse
import sys

from minnow.errors import InputError
from minnow.inference.chat import DEFAULT_MAX_TOKENS, Assistant

CHAT_HELP = "type a message and press enter; /reset forgets the conversation, /quit (or Ctrl-D) leaves"


def _checked(convert, ok, rule: str):
    """An argparse type: convert the text, then refuse a value that breaks `rule`."""

    def parse(text: str):
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, not {value}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v >= 1, ">= 1")
_non_negative_int = _checked(int, lambda v: v >= 0, ">= 0")
_non_negative_float = _checked(float, lambda v: v >= 0, ">= 0")
_positive_float = _checked(float, lambda v: v > 0, "> 0")
_probability = _checked(float, lambda v: 0 < v <= 1, "in (0, 1]")


def _sampling_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("sampling")
    group.add_argument(
        "--max-tokens",
        type=_non_negative_int,
        default=DEFAULT_MAX_TOKENS,
        help=f"most tokens to generate (default {DEFAULT_MAX_TOKENS})",
    )
    group.add_argument(
        "--temperature",
        type=_non_negative_float,
        default=0.8,
        help="0 picks the likeliest token every time (default 0.8)",
    )
    group.add_argument("--top-k", type=_positive_int, help="sample among the k likeliest tokens only")
    group.add_argument(
        "--top-p", type=_probability, help="sample among the likeliest tokens that hold this much probability together"
    )
    group.add_argument(
        "--repetition-penalty",
        type=_positive_float,
        default=1.0,
        help="> 1 makes tokens already seen less likely (default 1.0: off)",
    )
    group.add_argument("--seed", type=int, help="fix the sample (default: a different one each run)")
    group.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda", "mps", "auto"),
        help="where the model runs (default cpu; auto picks cuda, then mps)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minnow", description="Generate text with a trained minnow model.")
    commands = parser.add_subparsers(dest="command", required=True)
    options = _sampling_options()
    sample = commands.add_parser(
        "sample",
        parents=[options],
        help="continue a prompt",
        description="Print PROMPT followed by the model's continuation.",
    )
    sample.add_argument("model", metavar="MODEL_FOLDER", help="a trained model folder, e.g. results/tiny")
    sample.add_argument("prompt", metavar="PROMPT", nargs="?", default="", help="text to continue (default: none)")
    sample.set_defaults(run=run_sample)
    chat = commands.add_parser(
        "chat",
        parents=[options],
        help="talk to the model",
        description=f"Chat with the model, one message per line: {CHAT_HELP}.",
    )
    chat.add_argument("model", metavar="MODEL_FOLDER", help="a trained model folder, e.g. results/tiny")
    chat.add_argument("--system", help="a system message that opens the conversation")
    chat.set_defaults(run=run_chat)
    return parser


def sampling(args: argparse.Namespace) -> dict:
    names = ("max_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "seed")
    return {name: getattr(args, name) for name in names}


def run_sample(args: argparse.Namespace) -> None:
    assistant = Assistant.load(args.model, args.device)
    print(args.prompt + assistant.complete(args.prompt, **sampling(args)), flush=True)


def read_lines(stream):
    """Non-empty stripped lines until EOF, with a `> ` prompt on stderr when a person types."""
    interactive = stream.isatty()
    if interactive:
        print(CHAT_HELP, file=sys.stderr)
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def converse(assistant: Assistant, lines, opening: list[dict], options: dict, out=None) -> None:
    """Answer each line with the conversation so far (trimmed to fit), until /quit or
    the lines run out; /reset goes back to the opening turns."""
    out = out or sys.stdout
    conversation = list(opening)
    for line in lines:
        if line == "/quit":
            return
        if line == "/reset":
            conversation = list(opening)
            continue
        conversation.append({"role": "user", "content": line})
        answer = assistant.chat(conversation, **options)["choices"][0]["message"]
        print(answer["content"], file=out, flush=True)
        conversation = assistant.fit(conversation + [answer], options["max_tokens"])


def run_chat(args: argparse.Namespace) -> None:
    opening = [{"role": "system", "content": args.system}] if args.system else []
    sys.stdin.reconfigure(errors="replace")  # a stray non-UTF-8 byte is a character to answer, not a crash
    converse(Assistant.load(args.model, args.device), read_lines(sys.stdin), opening, sampling(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except InputError as e:
        print(f"minnow: ERROR: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
