/* cublas_v2.h — the CUDA emulator stands in for the toolkit header (nlemu.h). */
#include "nlemu.h"
