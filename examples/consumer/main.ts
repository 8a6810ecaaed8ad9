import { App } from 'cdk8s';
import { DataTeamAirflow } from './chart';

const app = new App();
new DataTeamAirflow(app, 'data-team');
app.synth();
