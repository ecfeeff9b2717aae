/* ops_list.h - every differentiable op, as data (STYLE.md #2). One X-macro feeds the enum and the
 * name table, so the two cannot drift apart. Add new ops at the end of their group. */
#ifndef BV_OPS_LIST_H
#define BV_OPS_LIST_H

#define BV_OPS(X)                                                                             \
    /* elementwise binary (broadcasting) and scalar forms */                                  \
    X(ADD) X(SUB) X(MUL) X(DIV) X(ADD_SCALAR) X(MUL_SCALAR) X(POW_SCALAR) X(RSUB_SCALAR)      \
    /* elementwise unary */                                                                   \
    X(NEG) X(EXP) X(LOG) X(SQRT) X(ABS) X(TANH) X(SIGMOID) X(RELU) X(LEAKY_RELU) X(GELU)       \
    X(SILU) X(SOFTPLUS) X(LOGSIGMOID) X(CLAMP) X(SQUARE)                                      \
    /* reductions */                                                                          \
    X(SUM) X(SUM_DIM) X(MEAN) X(MEAN_DIM) X(STD_DIM)                                          \
    /* linear algebra */                                                                      \
    X(MATMUL) X(LINEAR) X(EMBEDDING)                                                          \
    /* convolutions */                                                                        \
    X(CONV1D) X(CONV_TRANSPOSE1D) X(CONV2D) X(WEIGHT_NORM) X(CONV_BLOCK) X(CONV_UNBLOCK)        \
    /* normalisation */                                                                       \
    X(LAYER_NORM_CH) X(LAYER_NORM_LAST) X(GROUP_NORM) X(SOFTMAX) X(LOG_SOFTMAX)               \
    /* shape and data movement */                                                             \
    X(RESHAPE) X(TRANSPOSE) X(PERMUTE) X(SLICE) X(CONCAT) X(PAD) X(FLIP) X(EXPAND)            \
    X(GATHER_TIME) X(CUMSUM) X(MASKED_FILL) X(COPY)                                  \
    /* recurrent, flows, audio */                                                             \
    X(LSTM) X(RQ_SPLINE) X(STFT_MAG) X(RESAMPLE)                                   \
    /* fused model pieces */                                                                  \
    X(FUSED_TANH_SIGMOID) X(MHA_REL_LOGITS) X(MHA_REL_VALUES) X(MHA_REL_LOGITS_ADD) X(DROPOUT) X(RELU_DROPOUT_MASK) X(MHA_DROPOUT_VALUES)

typedef enum {
#define BV_OP_ENUM(n) BV_OP_##n,
    BV_OPS(BV_OP_ENUM)
#undef BV_OP_ENUM
    BV_OP_COUNT
} bv_op;

extern const char *const bv_op_names[BV_OP_COUNT];
const char *bv_op_name(bv_op op);

#endif
