#ifndef SIGNOFF_CSODIUM_SHIM_H
#define SIGNOFF_CSODIUM_SHIM_H
#include <sodium.h>
#endif
