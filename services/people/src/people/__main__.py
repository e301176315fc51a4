from chassis.process import main
from people.bootstrap import DEFINITION

main(DEFINITION)
