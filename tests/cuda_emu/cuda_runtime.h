/* cuda_runtime.h — the CUDA emulator stands in for the toolkit header (nlemu.h). */
#include "nlemu.h"
