/* vb_adapter: what every silo's program shares.  A program (vb-service,
 * vb-field, vb-sales, vb-finance) describes its silo in a vb_ad_silo --
 * its fields, options, presets, and what events a row makes -- and hands
 * it with argv to vb_adapter_main, which does the rest: options, mappings,
 * the customer map, the publisher (or --dry-run), --watch, the summary and
 * the exit status.  Reading a file is vb_ad_import's. */
#ifndef VB_ADAPTER_H
#define VB_ADAPTER_H

#include "vb_ad_import.h"

/* The program: parse argv, import, print the summary.  Returns the exit
 * status: 0 everything stored, 2 usage or input errors (some rows
 * rejected), 1 other failures (the broker not reached within --retry-for).
 * The silo description is borrowed. */
int vb_adapter_main(const vb_ad_silo *silo, int argc, char **argv);

#endif
