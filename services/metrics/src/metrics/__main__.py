from chassis.process import main
from metrics.bootstrap import DEFINITION

main(DEFINITION)
