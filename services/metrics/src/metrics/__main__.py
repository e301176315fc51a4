import sys

from chassis.process import main
from metrics import replay
from metrics.bootstrap import DEFINITION

# The chassis knows the api and worker roles; the replay command is metrics' own.
if sys.argv[1:2] == ["replay"]:
    replay.main(sys.argv[2:])
else:
    main(DEFINITION)
