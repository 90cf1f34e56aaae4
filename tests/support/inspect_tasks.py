"""Tiny offline Inspect tasks the tests run with `mockllm/model` to make real logs.

mockllm counts tokens with tiktoken, which downloads its encoding; these outputs carry their own
usage, so nothing is downloaded (shared/samples/FORMATS.md section 1.1).
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import includes, match
from inspect_ai.solver import Generate, TaskState, generate, solver

ANSWERS = {"What is 2+2?": "4", "Capital of France?": "Paris", "Colour of the sky?": "green"}
DATASET = [
    Sample(id="q1", input="What is 2+2?", target="4"),
    Sample(id="q2", input="Capital of France?", target="Paris"),
    Sample(id="q3", input="Colour of the sky?", target="blue"),
]


def _reply(input: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
    question = input[-1].text
    out = ModelOutput.from_content(model="mockllm", content=ANSWERS.get(question, "?"))
    words = len(question.split())
    out.usage = ModelUsage(input_tokens=words, output_tokens=1, total_tokens=words + 1)
    return out


def _model() -> Any:
    return get_model("mockllm/model", custom_outputs=_reply)


@task
def tiny() -> Task:
    """Two scorers; 2 of 3 answers right: accuracy 0.667, stderr 0.333 for both."""
    return Task(
        dataset=DATASET,
        solver=[generate()],
        scorer=[match(location="any"), includes()],
        model=_model(),
    )


@solver
def explode() -> Any:
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        raise RuntimeError("the sandbox fell over")

    return solve


@task
def tiny_error() -> Task:
    """A run that ends with status 'error'."""
    return Task(dataset=DATASET[:1], solver=[explode()], scorer=match(), model=_model())
