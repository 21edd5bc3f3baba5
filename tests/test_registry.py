"""The registry: built-ins by explicit list, third-party plugins by entry point, failures kept contained."""

import shutil
import subprocess
import sys
import textwrap

import pytest
from gradio_client import Client

from conftest import REPO_ROOT, HubServer, clean_env
from plugins.base import Plugin, Preset, TrainingRecipe
from plugins.registry import UnknownPluginError, builtin_plugin_modules, get_plugin, plugin_names, register_plugin

# A plugin that lives outside the repository, in an "installed" distribution that declares it
# through the `dsl_hub.plugins` entry point group: a tiny logistic regression on 4 numbers.
EXTERNAL_PLUGIN = textwrap.dedent('''
    import torch
    from transformers import PretrainedConfig, PreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    from plugins import DataSplits, Plugin, Preset, TrainingRecipe, register_plugin
    from plugins.datasets import TensorDictDataset


    class ToyConfig(PretrainedConfig):
        model_type = "toy_linear"
        num_features: int = 4


    class ToyModel(PreTrainedModel):
        config_class = ToyConfig
        main_input_name = "features"

        def __init__(self, config):
            super().__init__(config)
            self.linear = torch.nn.Linear(config.num_features, 2)
            self.post_init()

        def forward(self, features, labels=None):
            logits = self.linear(features)
            loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
            return SequenceClassifierOutput(loss=loss, logits=logits)


    def toy_data(count, seed):
        generator = torch.Generator().manual_seed(seed)
        features = torch.randn(count, 4, generator=generator)
        return TensorDictDataset(features=features, labels=(features.sum(1) > 0).long())


    @register_plugin
    class ToyPlugin(Plugin):
        name = "toy-sign"
        title = "Toy sign classifier"
        description = "Says whether four numbers add up to something positive."
        config_class = ToyConfig
        model_class = ToyModel
        presets = {"best": Preset("a linear layer", {}, TrainingRecipe(epochs=2, batch_size=8, learning_rate=0.1))}

        def load_data(self, data_dir, preset, seed):
            return self.synthetic_data(preset, 256, seed)

        def synthetic_data(self, preset, num_examples=64, seed=0):
            return DataSplits(toy_data(num_examples, seed), toy_data(32, seed + 1), description="random numbers")

        def build_demo(self, models):
            import gradio as gr
            model = next(iter(models.values())).model
            numbers = [gr.Number(value=1.0, label=f"x{i}") for i in range(4)]
            answer = gr.Label()

            def predict(*values):
                logits = model(features=torch.tensor([values], dtype=torch.float32)).logits
                return {"negative": float(logits.softmax(-1)[0, 0]), "positive": float(logits.softmax(-1)[0, 1])}

            gr.Button("Predict").click(predict, numbers, answer, api_name="toy_sign_predict")
''')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder that looks like site-packages with two installed plugin distributions, one broken."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "toy_sign_plugin.py").write_text(EXTERNAL_PLUGIN)
    (folder / "broken_plugin.py").write_text("import a_module_that_does_not_exist\n")
    for distribution, entry in (("toy_sign_plugin", "toy = toy_sign_plugin"), ("broken_plugin", "broken = broken_plugin")):
        info = folder / f"{distribution}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[dsl_hub.plugins]\n{entry}\n")
    return folder


def test_every_plugin_folder_is_found_and_tabs_follow_the_lecture():
    assert {"plugins.mnist_cnn", "plugins.lstm_composer", "plugins.font_gan", "plugins.font_style"} <= set(
        builtin_plugin_modules())
    names = plugin_names()
    assert names.index("mnist-cnn") < names.index("lstm-composer") < names.index("font-gan") < names.index("font-style")


def test_unknown_plugin_lists_the_available_ones():
    with pytest.raises(UnknownPluginError, match="mnist-cnn") as caught:
        get_plugin("no-such-plugin")
    assert "no-such-plugin" in str(caught.value)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(KeyError, match="lecture-01a"):
        get_plugin("mnist-cnn").preset("no-such-preset")


def test_plugin_class_is_checked_when_defined():
    with pytest.raises(TypeError, match="load_data"):
        class Incomplete(Plugin):  # noqa: F841
            name = "incomplete"
            title = description = "x"
            config_class = model_class = object
            presets = {"best": Preset("x", {}, TrainingRecipe())}

            def synthetic_data(self, preset, num_examples=64, seed=0): ...

            def build_demo(self, models): ...

    with pytest.raises(TypeError, match="lower-case"):
        class BadName(Plugin):  # noqa: F841
            name = "Bad Name"
            title = description = "x"
            config_class = model_class = object
            presets = {"best": Preset("x", {}, TrainingRecipe())}

            def load_data(self, data_dir, preset, seed): ...

            def synthetic_data(self, preset, num_examples=64, seed=0): ...

            def build_demo(self, models): ...


def test_two_plugins_cannot_share_a_name():
    mnist = type(get_plugin("mnist-cnn"))
    impostor = type("Impostor", (mnist,), {})
    with pytest.raises(ValueError, match="two plugins are named 'mnist-cnn'"):
        register_plugin(impostor)


def test_external_plugin_appears_in_train_list_and_broken_one_is_reported(site):
    result = subprocess.run([sys.executable, "train.py", "--list"], cwd=REPO_ROOT, capture_output=True, text=True,
                            env=clean_env(PYTHONPATH=str(site)), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "toy-sign: Toy sign classifier" in result.stdout
    assert "--preset best (default): a linear layer" in result.stdout
    assert "broken (entry point broken_plugin): UNAVAILABLE" in result.stdout
    assert "a_module_that_does_not_exist" in result.stdout
    assert "mnist-cnn" in result.stdout


def test_external_plugin_is_served_beside_a_broken_plugin_and_broken_weights(site, tmp_path, repo_root):
    """One hub: a third-party plugin that works, one that fails to import, and built-in weights that are corrupt."""
    env = clean_env(PYTHONPATH=str(site))
    result = subprocess.run([sys.executable, "train.py", "toy-sign", "--output-dir", str(tmp_path / "run")],
                            cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    (pretrained / "toy-sign").symlink_to(tmp_path / "run" / "model")
    for shipped in (repo_root / "pretrained").iterdir():
        (pretrained / shipped.name).symlink_to(shipped)
    for folder in get_plugin("mnist-cnn").demo_weights.values():  # every digit model's weights are damaged
        (pretrained / folder).unlink(missing_ok=True)
        shutil.copytree(tmp_path / "run" / "model", pretrained / folder)
        (pretrained / folder / "model.safetensors").write_bytes(b"not a safetensors file")

    server = HubServer(REPO_ROOT / "spaces" / "hub" / "app.py", {**env, "DSL_HUB_PRETRAINED": str(pretrained)},
                       tmp_path / "hub.log")
    try:
        client = Client(server.url, verbose=False)
        answer = client.predict(2.0, 1.0, 0.5, 3.0, api_name="/toy_sign_predict")
        assert answer["label"] == "positive"
        components = client.config["components"]
        titles = {component.get("props", {}).get("label") for component in components}
        assert "Toy sign classifier" in titles
        assert any("broken" in str(title) and "unavailable" in str(title) for title in titles)
        texts = " ".join(str(component.get("props", {}).get("value")) for component in components)
        assert "Digits (MNIST CNN) is unavailable" in texts, texts
        assert "safetensor" in texts.lower()
        assert "/mnist_cnn_classify" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    finally:
        server.stop()
