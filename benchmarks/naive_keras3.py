"""The original Keras-GAN `gan/gan.py`, ported to Keras 3 the naive way.

eriklindernoren's script as written, with only what Keras 3 refuses changed, each
change marked `# Keras 3:` (and `# Added:` for the three things the README's comparison
needs). It runs, prints losses and saves pictures, but its discriminator never learns:
Keras 3 reads `trainable` when a model's train function is first traced, not when the
model is compiled, so `self.discriminator.trainable = False` (set before the combined
model is compiled, as Keras 2 wanted) also freezes D inside its own model. Keras warns
once, at the first `train_on_batch`; the rest of the run trains G against a fixed,
random D. gan.py is the fix (README.md, "What changed from the original, and why").

    MNIST_PATH=/path/to/mnist.npz python benchmarks/naive_keras3.py

It prints every iteration, as the original did, and writes images/ and
saved_model/generator.keras in the current folder, for evaluate.py and sample.py.
"""

import os

import keras
import matplotlib

matplotlib.use("Agg")  # Added: files only, no window
import matplotlib.pyplot as plt
import numpy as np

# Keras 3: keras.layers.advanced_activations and keras.layers.convolutional are gone;
# every layer is in keras.layers.
from keras.datasets import mnist
from keras.layers import BatchNormalization, Dense, Flatten, Input, LeakyReLU, Reshape
from keras.models import Model, Sequential
from keras.optimizers import Adam

SEED = 1337  # Added: the original did not seed; the README's row must be reproducible


def load_training_images():
    # Keras 3 is not at fault here: this machine has no network, and Keras's loader
    # accepts only its own download. Added: a local mnist.npz when MNIST_PATH is set.
    if os.environ.get("MNIST_PATH"):
        with np.load(os.environ["MNIST_PATH"]) as data:
            return data["x_train"]
    (X_train, _), (_, _) = mnist.load_data()
    return X_train


class GAN:
    def __init__(self):
        self.img_rows = 28
        self.img_cols = 28
        self.channels = 1
        self.img_shape = (self.img_rows, self.img_cols, self.channels)
        self.latent_dim = 100

        optimizer = Adam(0.0002, 0.5)

        # Build and compile the discriminator
        self.discriminator = self.build_discriminator()
        self.discriminator.compile(
            loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"]
        )

        # Build the generator
        self.generator = self.build_generator()

        # The generator takes noise as input and generates imgs
        z = Input(shape=(self.latent_dim,))
        img = self.generator(z)

        # For the combined model we will only train the generator
        self.discriminator.trainable = False

        # The discriminator takes generated images as input and determines validity
        validity = self.discriminator(img)

        # The combined model  (stacked generator and discriminator)
        # Trains the generator to fool the discriminator
        self.combined = Model(z, validity)
        self.combined.compile(loss="binary_crossentropy", optimizer=optimizer)

    def build_generator(self):
        model = Sequential()

        model.add(Dense(256, input_dim=self.latent_dim))
        model.add(LeakyReLU(negative_slope=0.2))  # Keras 3: `alpha` is now this
        model.add(BatchNormalization(momentum=0.8))
        model.add(Dense(512))
        model.add(LeakyReLU(negative_slope=0.2))
        model.add(BatchNormalization(momentum=0.8))
        model.add(Dense(1024))
        model.add(LeakyReLU(negative_slope=0.2))
        model.add(BatchNormalization(momentum=0.8))
        # Keras 3: units must be a Python int, not NumPy's
        model.add(Dense(int(np.prod(self.img_shape)), activation="tanh"))
        model.add(Reshape(self.img_shape))

        model.summary()

        noise = Input(shape=(self.latent_dim,))
        img = model(noise)

        return Model(noise, img)

    def build_discriminator(self):
        model = Sequential()

        model.add(Flatten(input_shape=self.img_shape))
        model.add(Dense(512))
        model.add(LeakyReLU(negative_slope=0.2))
        model.add(Dense(256))
        model.add(LeakyReLU(negative_slope=0.2))
        model.add(Dense(1, activation="sigmoid"))
        model.summary()

        img = Input(shape=self.img_shape)
        validity = model(img)

        return Model(img, validity)

    def train(self, epochs, batch_size=128, sample_interval=50):
        # Load the dataset
        X_train = load_training_images()

        # Rescale -1 to 1
        X_train = X_train / 127.5 - 1.0
        X_train = np.expand_dims(X_train, axis=3)

        # Adversarial ground truths
        valid = np.ones((batch_size, 1))
        fake = np.zeros((batch_size, 1))

        for epoch in range(epochs):
            # ---------------------
            #  Train Discriminator
            # ---------------------

            # Select a random batch of images
            idx = np.random.randint(0, X_train.shape[0], batch_size)
            imgs = X_train[idx]

            noise = np.random.normal(0, 1, (batch_size, self.latent_dim))

            # Generate a batch of new images
            gen_imgs = self.generator.predict(noise)

            # Train the discriminator
            d_loss_real = self.discriminator.train_on_batch(imgs, valid)
            d_loss_fake = self.discriminator.train_on_batch(gen_imgs, fake)
            d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)

            # ---------------------
            #  Train Generator
            # ---------------------

            noise = np.random.normal(0, 1, (batch_size, self.latent_dim))

            # Train the generator (to have the discriminator label samples as valid)
            g_loss = self.combined.train_on_batch(noise, valid)

            # Plot the progress
            print(
                "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                % (epoch, d_loss[0], 100 * d_loss[1], g_loss)
            )

            # If at save interval => save generated image samples
            if epoch % sample_interval == 0:
                self.sample_images(epoch)

    def sample_images(self, epoch):
        r, c = 5, 5
        noise = np.random.normal(0, 1, (r * c, self.latent_dim))
        gen_imgs = self.generator.predict(noise)

        # Rescale images 0 - 1
        gen_imgs = 0.5 * gen_imgs + 0.5

        fig, axs = plt.subplots(r, c)
        cnt = 0
        for i in range(r):
            for j in range(c):
                axs[i, j].imshow(gen_imgs[cnt, :, :, 0], cmap="gray")
                axs[i, j].axis("off")
                cnt += 1
        os.makedirs("images", exist_ok=True)  # Added: the original's folder was in git
        fig.savefig("images/%d.png" % epoch)
        plt.close()


if __name__ == "__main__":
    keras.utils.set_random_seed(SEED)  # Added (see SEED)
    gan = GAN()
    # The project's run: 30,001 iterations, a grid every 500 (the original: 30,000, 200)
    gan.train(epochs=30001, batch_size=32, sample_interval=500)
    # Added: saved as gan.py saves its generator, for evaluate.py and sample.py
    os.makedirs("saved_model", exist_ok=True)
    gan.generator.save("saved_model/generator.keras")
