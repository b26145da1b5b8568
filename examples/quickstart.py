"""A small end-to-end run: three blocks composed in sequence, one of them a loop."""

from diffblocks import (
    InputParam,
    LoopSequentialPipelineBlocks,
    OutputParam,
    PipelineBlock,
    SequentialPipelineBlocks,
)


class Tokenize(PipelineBlock):
    description = "Splits the prompt into words."

    @property
    def inputs(self):
        return [InputParam("prompt", str, required=True, description="text to process")]

    @property
    def intermediate_outputs(self):
        return [OutputParam("words", list, "the prompt's words")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.words = bs.prompt.split()
        self.set_block_state(state, bs)
        return components, state


class Shout(PipelineBlock):
    def __call__(self, components, block_state, i):
        block_state.words[i] = block_state.words[i].upper()
        return components, block_state


class ShoutEach(LoopSequentialPipelineBlocks):
    block_classes = [Shout]
    block_names = ["shout"]

    @property
    def loop_intermediate_inputs(self):
        return [InputParam("words", required=True)]

    @property
    def loop_intermediate_outputs(self):
        return [OutputParam("words")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        for i in range(len(bs.words)):
            components, bs = self.loop_step(components, bs, i=i)
        self.set_block_state(state, bs)
        return components, state


blocks = SequentialPipelineBlocks.from_blocks_dict({"tokenize": Tokenize, "shout": ShoutEach})
print(blocks.doc)
pipe = blocks.init_pipeline()
print("result:", pipe(prompt="blocks compose pipelines", output="words"))
