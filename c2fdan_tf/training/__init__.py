"""Training: the C2FDAN GAN model, presets, callbacks and the stage runners."""
