/* cuda_fp16.h — the CUDA emulator stands in for the toolkit header (nlemu.h). */
#include "nlemu.h"
