from chassis.process import main
from content.bootstrap import DEFINITION

main(DEFINITION)
