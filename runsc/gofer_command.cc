// The internal `gofer` subcommand: hands over to the gofer's own entry point.
#include "gofer/server.h"
#include "runsc/cli.h"

namespace sbx::runsc {

int GoferCommand(int argc, char** argv) { return gofer::GoferMain(argc, argv); }

}  // namespace sbx::runsc
