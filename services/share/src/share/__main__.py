from chassis.process import main
from share.bootstrap import DEFINITION

main(DEFINITION)
