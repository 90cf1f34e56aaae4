"""The demo evaluation behind `make run`'s demo feed.

Regenerate the logs in ./logs (needs the `dev` extra, works offline):

    .venv/bin/inspect eval deploy/demo/task.py --log-dir deploy/demo/logs --display plain
    .venv/bin/inspect eval deploy/demo/task.py --log-dir deploy/demo/logs --log-format json \
        --display plain

mockllm/model normally counts tokens with tiktoken, which downloads its encoding; the outputs
below already carry token usage, so nothing is downloaded.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate

ANSWERS = {
    "What is 2+2?": "4",
    "Capital of France?": "Paris",
    "Colour of the sky?": "green",
}


def _reply(input, tools, tool_choice, config):
    question = input[-1].text
    out = ModelOutput.from_content(model="mockllm", content=ANSWERS.get(question, "?"))
    words = len(question.split())
    out.usage = ModelUsage(input_tokens=words, output_tokens=1, total_tokens=words + 1)
    return out


@task
def demo_capability():
    return Task(
        dataset=[
            Sample(id="q1", input="What is 2+2?", target="4"),
            Sample(id="q2", input="Capital of France?", target="Paris"),
            Sample(id="q3", input="Colour of the sky?", target="blue"),
        ],
        solver=[generate()],
        scorer=[match(location="any"), includes()],
        model=get_model("mockllm/model", custom_outputs=_reply),
    )
