from chassis.process import main
from rewards.bootstrap import DEFINITION

main(DEFINITION)
