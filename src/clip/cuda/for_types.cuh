/* for_types.cuh — include NL_T_FILE once per activation type: float,
 * __half and __nv_bfloat16, with T, TOF (T -> float), FROMF (float -> T)
 * and SFX (a name suffix: f32, f16, bf16) defined around each inclusion.
 * The C way to write a kernel once for three types. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define T float
#define TOF(x) (x)
#define FROMF(x) (x)
#define SFX f32
#include NL_T_FILE
#undef T
#undef TOF
#undef FROMF
#undef SFX

#define T __half
#define TOF(x) __half2float(x)
#define FROMF(x) __float2half_rn(x)
#define SFX f16
#include NL_T_FILE
#undef T
#undef TOF
#undef FROMF
#undef SFX

#define T __nv_bfloat16
#define TOF(x) __bfloat162float(x)
#define FROMF(x) __float2bfloat16_rn(x)
#define SFX bf16
#include NL_T_FILE
#undef T
#undef TOF
#undef FROMF
#undef SFX
#undef NL_T_FILE
