/* The service silo's description, for the adapter_rows fuzz target.  Its
 * callbacks are static in adapters/service/vb_service.c, a program: the file is
 * compiled here as it is, with its main renamed, and the silo lent out. */
#include "vb_fuzz_silos.h"

int vb_fuzz_main_service(int argc, char **argv);
#define main vb_fuzz_main_service
#include "service/vb_service.c"
#undef main

const vb_ad_silo *
vb_fuzz_silo_service(void)
{
	return &silo;
}
