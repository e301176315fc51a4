from chassis.process import main
from metrics.bootstrap import DEFINITION
from metrics.entrypoints import replay

main(
    DEFINITION,
    commands={"replay": ("rebuild every read model from the topics, then swap it in", replay.main)},
)
