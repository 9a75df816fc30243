"""The headline-engagement predictor (inference only; training lives in finetune/classifier/)."""
