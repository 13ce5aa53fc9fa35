/**
 * Mean and standard deviation of the pixels of MNIST's 60,000 training images (values in [0, 1]), as
 * torchvision's examples use them: `normalize(MNIST_MEAN, MNIST_STD)` gives a network zero-mean,
 * unit-variance input.
 */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
