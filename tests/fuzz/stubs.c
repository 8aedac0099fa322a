/* stubs.c: what the harnesses link instead of vaultd's server (see
 * CMakeLists.txt). */
#include <stdlib.h>

#include "api.h"

void
api_print_routes(void)
{
	abort(); /* --routes is refused in a configuration file */
}
