/* The four silos' descriptions (adapters/<silo>/vb_<silo>.c), lent to the
 * adapter_rows fuzz target by vb_fuzz_silo_<silo>.c.  Static storage. */
#ifndef VB_FUZZ_SILOS_H
#define VB_FUZZ_SILOS_H

#include "vb_ad_import.h"

const vb_ad_silo *vb_fuzz_silo_service(void);
const vb_ad_silo *vb_fuzz_silo_field(void);
const vb_ad_silo *vb_fuzz_silo_sales(void);
const vb_ad_silo *vb_fuzz_silo_finance(void);

#endif
