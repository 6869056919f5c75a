"""Example third-party plugins for automl, one of each kind, registered through entry points:

- model ``tabular_resnet`` (:mod:`automl_plugin_example.model`): a residual MLP for tables (torch);
- optimizer ``nadam`` (:mod:`automl_plugin_example.optimizer`): Adam with Nesterov momentum;
- regularizer ``input_noise`` (:mod:`automl_plugin_example.regularizer`): Gaussian noise on training inputs.

This module imports none of them: automl loads each plugin from its own module, so one plugin that cannot be
imported does not take the others down.
"""
