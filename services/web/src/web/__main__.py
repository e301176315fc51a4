from chassis.process import main
from web.bootstrap import DEFINITION

main(DEFINITION)
